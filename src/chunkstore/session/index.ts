// The write session's public face: what a caller of ChunkStore.beginBackup works with.
export type { BackupSession, NewEntry } from './backup-session';
export type { ContentWriter } from './content-writer';
export type { ContentRef } from './content-ref';
export type { OwnEntry } from './own-entry';
export type { ReceivedChunk } from './chunk-intake';
export type { StoredBytesLimit } from './stored-limit';
