// The read API's public face: what a caller of ChunkStore.openReader works with.
export type { BackupReader, ReaderOptions, RestoreItem } from './backup-reader';
export type { ContentSource, ChunkToDecode } from './content-source';
export type { StoredEntry, BackupRecord } from '../catalog/records';
