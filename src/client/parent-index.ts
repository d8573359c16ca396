// Fetches the metadata of the client's newest backup: what lets an unchanged file travel as a reference only.
import type { BackupClient, EntryMeta, ParentBatch } from '../proto/cpsbackup';

export interface ParentIndex {
  readonly backupId: number;
  readonly entries: ReadonlyMap<string, EntryMeta>;
}

export async function fetchParentIndex(client: BackupClient): Promise<ParentIndex> {
  const entries = new Map<string, EntryMeta>();
  let backupId = 0;
  const call = client.parent({ backupId: 0 });
  for await (const batch of call as AsyncIterable<ParentBatch>) {
    backupId = batch.backupId;
    for (const entry of batch.entries) entries.set(entry.path, entry);
  }
  return { backupId, entries };
}
