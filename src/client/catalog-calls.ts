// The client's list, show and delete calls, returning plain data for the CLI to print.
import { EntryType, type BackupClient, type BackupSummary, type EntryMeta, type ShowBatch } from '../proto/cpsbackup';
import { fromServiceError } from './remote-error';

export function listBackups(client: BackupClient, address: string, clientName = ''): Promise<BackupSummary[]> {
  return new Promise((resolve, reject) => {
    client.list({ clientName }, (error, response) => (error ? reject(fromServiceError(error, address)) : resolve(response.backups)));
  });
}

/** Streams a backup's summary to onBackup, then its entries to onEntry. */
export async function showBackup(client: BackupClient, address: string, backupId: number, clientName: string,
  onBackup: (backup: BackupSummary) => void, onEntry: (entry: EntryMeta) => void): Promise<void> {
  try {
    for await (const batch of client.show({ backupId, clientName }) as AsyncIterable<ShowBatch>) {
      if (batch.backup) onBackup(batch.backup);
      for (const entry of batch.entries) onEntry(entry);
    }
  } catch (error) {
    throw fromServiceError(error, address);
  }
}

/** clientName '' means the caller's own backups; the server refuses any other client's. */
export function deleteBackup(client: BackupClient, address: string, backupId: number, isForced: boolean, clientName = ''): Promise<number> {
  return new Promise((resolve, reject) => {
    client.delete({ backupId, clientName, force: isForced }, (error, response) => (error ? reject(fromServiceError(error, address)) : resolve(response.freedBytes)));
  });
}

/** Marks a backup protected or not; returns its summary as it is now. */
export function protectBackup(client: BackupClient, address: string, backupId: number, isProtected: boolean): Promise<BackupSummary> {
  return new Promise((resolve, reject) => {
    client.protect({ backupId, clientName: '', isProtected }, (error, response) => (error ? reject(fromServiceError(error, address)) : resolve(response)));
  });
}

/** The dump files (entries that were FIFOs) of each backup, by backup id: what a chain or receive must load. */
export async function dumpPathsOf(client: BackupClient, address: string, clientName: string,
  backups: readonly BackupSummary[]): Promise<Map<number, string[]>> {
  const dumpPaths = new Map<number, string[]>();
  for (const backup of backups) {
    const paths: string[] = [];
    await showBackup(client, address, backup.backupId, clientName, () => undefined, (entry) => {
      if (entry.type === EntryType.ENTRY_TYPE_FIFO_CONTENT) paths.push(entry.path.toString('utf8'));
    });
    dumpPaths.set(backup.backupId, paths);
  }
  return dumpPaths;
}
