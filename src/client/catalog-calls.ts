// The client's list, show, delete, diff and find calls, returning plain data for the CLI to print.
import { type BackupClient, type BackupSummary, type DiffBatch, type DiffEntry, type EntryMeta, type FindBatch, type FindMatch, type ListBatch, type ShowBatch } from '../proto/cpsbackup';
import { fromServiceError } from './remote-error';
import { ProtocolError } from '../common/errors';
import { isDumpEntry } from '../common/dump-entry';

/**
 * Every backup of the client (clientName '' for the caller's own), oldest first, gathered from the
 * server's batches: a long history with a mark per table outgrows one gRPC message. Every caller goes
 * through here (-l, the partial job's marks, receive, a chain's restore).
 */
export async function listBackups(client: BackupClient, address: string, clientName = ''): Promise<BackupSummary[]> {
  const backups: BackupSummary[] = [];
  let isComplete = false;
  const call = client.list({ clientName, readsBatches: true });
  try {
    for await (const batch of call as AsyncIterable<ListBatch>) {
      if (isComplete) throw new ProtocolError(`the backup server at ${address} sent more backups after the last batch of its list`);
      backups.push(...batch.backups);
      isComplete = batch.isLast;
    }
  } catch (error) {
    call.cancel(); // a no-op once the call ended; else the server stops sending what nobody reads
    throw fromServiceError(error, address);
  }
  // An older server answers in one message that never says it is the last: taken for the whole list, its
  // answer would be read right until the day the history outgrew it, then fail with no word why.
  if (!isComplete) {
    throw new ProtocolError(`the backup server at ${address} runs a cpsbackup older than this client's: it answers the list `
      + 'of backups in one message, which a long history outgrows; install this client\'s version of cpsbackup on the server');
  }
  return backups;
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

/**
 * clientName '' means the caller's own backups; the server refuses any other client's. Resolves to the
 * raw bytes of the client's data no backup of it references any more (not what the server frees).
 */
/** What a Delete did: the backups it deleted (empty from an older server) and the client's data no backup references now. */
export interface Deletion {
  readonly deletedBackupIds: readonly number[];
  readonly unreferencedBytes: number;
}

export function deleteBackup(client: BackupClient, address: string, backupId: number, isForced: boolean, clientName = ''): Promise<Deletion> {
  return new Promise((resolve, reject) => {
    client.delete({ backupId, clientName, force: isForced }, (error, response) => (error ? reject(fromServiceError(error, address))
      : resolve({ deletedBackupIds: response.deletedBackupIds, unreferencedBytes: response.unreferencedBytes })));
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
      if (isDumpEntry(entry)) paths.push(entry.path.toString('utf8'));
    });
    dumpPaths.set(backup.backupId, paths);
  }
  return dumpPaths;
}

/** Streams the differences between two backups (path order) to onDifference. */
export async function diffBackups(client: BackupClient, address: string, fromBackupId: number, toBackupId: number, clientName: string,
  onDifference: (difference: DiffEntry) => void | Promise<void>): Promise<void> {
  try {
    // Awaited: a slow reader of our output slows the stream down instead of filling our memory.
    for await (const batch of client.diff({ fromBackupId, toBackupId, clientName }) as AsyncIterable<DiffBatch>) {
      for (const difference of batch.entries) await onDifference(difference);
    }
  } catch (error) {
    throw fromServiceError(error, address);
  }
}

/** Streams the entries of the client's backups whose escaped path matches the glob (backup by backup, path order). */
export async function findEntries(client: BackupClient, address: string, pattern: string, clientName: string,
  onMatch: (match: FindMatch) => void | Promise<void>): Promise<void> {
  try {
    for await (const batch of client.find({ pattern, clientName }) as AsyncIterable<FindBatch>) {
      for (const match of batch.matches) await onMatch(match);
    }
  } catch (error) {
    throw fromServiceError(error, address);
  }
}
