// A backup's own entry at a path while it is being written: waiting for its session's flush, or
// already in the catalog. A hard link's later path is read back from here instead of the session
// keeping every linked file's attributes and extents in memory for the whole backup.
import type { Catalog } from '../catalog/catalog';
import type { StoredEntry } from '../catalog/records';
import type { ContentRef } from './content-ref';
import { escapeBytes } from '../../common/escape-bytes';

/** An entry as the caller described it, with its content (pending in the session, or stored). */
export interface OwnEntry {
  readonly entry: Omit<StoredEntry, 'contentId'>;
  readonly content: ContentRef | null;
  /** In the catalog already (flushed, or copied by a carried run); else waiting for the next flush. */
  readonly isWritten: boolean;
}

/**
 * `pending`: the entries gathered since the last flush (at most a flush's worth, so the scan is
 * bounded); newest first, since a link usually follows its first path closely. A path is in one
 * place only: the catalog's primary key is (backup, path).
 */
export function ownEntryAt(pending: readonly Omit<OwnEntry, 'isWritten'>[], catalog: Catalog, backupId: number, path: Buffer): OwnEntry | undefined {
  for (let index = pending.length - 1; index >= 0; index--) {
    const candidate = pending[index];
    // The length first: most paths differ in it, and comparing it costs no call into C++.
    if (candidate.entry.path.length === path.length && candidate.entry.path.equals(path)) return { ...candidate, isWritten: false };
  }
  const stored = catalog.entries.at(backupId, path);
  if (stored === undefined) return undefined;
  const { contentId, ...entry } = stored;
  if (contentId === null) return { entry, content: null, isWritten: true };
  // Held by this session since the flush that wrote it (or the carried run that copied it).
  const content = catalog.contents.byId(contentId);
  if (content === undefined) throw new Error(`content ${contentId} of ${escapeBytes(path)} in backup ${backupId} is gone while the backup is written`);
  return { entry, content: { id: contentId, size: content.size }, isWritten: true };
}
