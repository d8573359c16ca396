// Fetches the metadata of the client's newest backup: what lets an unchanged file travel as a reference only.
import type { BackupClient, ParentBatch } from '../proto/cpsbackup';
import type { ParentFile } from './entry-meta';

export interface ParentIndex {
  readonly backupId: number;
  /** By path as a latin1 string (one character per byte). */
  readonly entries: ReadonlyMap<string, ParentFile>;
  /** The server takes EntryBatch messages (servers before them never say so). */
  readonly acceptsBatches: boolean;
}

export async function fetchParentIndex(client: BackupClient): Promise<ParentIndex> {
  const entries = new Map<string, ParentFile>();
  let backupId = 0;
  let acceptsBatches = false;
  const call = client.parent({ backupId: 0, unchangedCheckOnly: true });
  for await (const batch of call as AsyncIterable<ParentBatch>) {
    backupId = batch.backupId;
    acceptsBatches ||= batch.acceptsBatches;
    for (const entry of batch.entries) entries.set(entry.path.toString('latin1'), entry);
  }
  return { backupId, entries, acceptsBatches };
}
