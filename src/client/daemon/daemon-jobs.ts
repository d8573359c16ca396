// The jobs node.conf can schedule: a complete backup, a partial backup, and a receive of another
// client's backups; each logs one summary line and throws on failure.
import type { NodeConfig } from '../../common/config/node-config';
import type { Logger } from '../../common/logger';
import { BackupKind } from '../../proto/cpsbackup';
import { listBackups } from '../catalog-calls';
import { connectToServer } from '../connection';
import { partialSinceOf } from '../partial-since';
import { incompleteBackupWarning } from '../incomplete-backup';
import { loadWarningsOf, runReceive } from '../receiver/receiver';
import { incompleteBackupsOf } from '../receiver/receive-incomplete';
import { receiveGapWarnings } from '../receiver/receive-gaps';
import type { StorageConfig } from '../sources/storage-config';
import { runBackup } from '../uploader';
import { withScripts } from '../hooks/with-scripts';
import { withBackupLock } from '../backup-lock';
import { withFailureReport } from '../failure-report';
import { expiryNotices } from '../../common/tls/certificate-expiry';
import { restoreGapLines } from '../restore-gap-lines';

export type JobName = 'complete' | 'partial' | 'receive';

/** Entries left out of a backup that the log names one by one: a denied tree of 50,000 files must not flood it at every run. */
const UNREADABLE_LOGGED = 100;

export interface JobContext {
  readonly config: NodeConfig;
  /** Read at each run, so an edited storage.conf takes effect without a restart. */
  readonly storage: () => StorageConfig | undefined;
  readonly logger: Logger;
}

export async function listOwnBackups(config: NodeConfig): ReturnType<typeof listBackups> {
  const client = connectToServer(config);
  try {
    return await listBackups(client, `${config.server}:${config.port}`);
  } finally {
    client.close();
  }
}

export async function runJob(name: JobName, context: JobContext, signal: AbortSignal): Promise<void> {
  const { config, logger } = context;
  // At each job, not only at the daemon's start: a daemon runs for months, and node.conf's certificate expires.
  for (const notice of expiryNotices(config)) logger.warn(`${name}: ${notice}`);
  if (name === 'receive') return runReceiveJob(context, signal);
  const attempt = { kind: name === 'partial' ? BackupKind.BACKUP_KIND_PARTIAL : BackupKind.BACKUP_KIND_COMPLETE, isScheduled: true, signal };
  // The same lock and scripts as `cpsbackup -e`: another backup running on this node (an operator's -e, a
  // second daemon) fails the job before anything starts, unreported (the running one reports its own
  // outcome); a failing pre script fails the job; the post script runs after every outcome. A failure
  // before the upload began (pre script, dump source, storage.conf) is reported to the server.
  await withBackupLock(config, () => withFailureReport(config, attempt, (note) => logger.warn(`${name}: ${note}`), () => withScripts({ action: 'backup', configFile: config.file, pre: config.scripts.backupPre, post: config.scripts.backupPost }, async () => {
    const isPartialRun = name === 'partial';
    const partialSince = isPartialRun ? partialSinceOf(await listOwnBackups(config)) : undefined;
    if (partialSince) logger.info(`partial: dumping changes since ${partialSince.toISOString()}`);
    const { summary, progress } = await runBackup(config, {
      kind: isPartialRun ? BackupKind.BACKUP_KIND_PARTIAL : BackupKind.BACKUP_KIND_COMPLETE,
      storage: context.storage(), partialSince, signal, isScheduled: true,
    });
    for (const warning of progress.warnings) logger.warn(`${name}: ${warning}`);
    // What -e lists and exits 3 for: not in the backup, so the log says so at the level that gets read.
    for (const item of progress.unreadable.slice(0, UNREADABLE_LOGGED)) logger.error(`${name}: not in backup ${summary.backupId}: ${item.path}: ${item.reason}`);
    if (progress.unreadable.length > UNREADABLE_LOGGED) {
      logger.error(`${name}: … and ${progress.unreadable.length - UNREADABLE_LOGGED} more not in backup ${summary.backupId} (cpsbackup -e lists them all)`);
    }
    const counts = `${summary.files} files (${progress.unchangedFiles} unchanged), ${summary.logicalBytes} bytes, ${summary.newBytes} new`;
    if (progress.unreadable.length > 0) {
      logger.error(`${name}: backup ${summary.backupId} committed INCOMPLETE: ${progress.unreadable.length} `
        + `entr${progress.unreadable.length === 1 ? 'y' : 'ies'} could not be read (above); ${counts}`);
    } else logger.info(`${name}: backup ${summary.backupId} committed: ${counts}`);
    return { backupId: summary.backupId, exitCode: progress.unreadable.length > 0 ? 3 : 0 };
  }, (problem) => logger.error(`${name}: ${problem}`))), (warning) => logger.warn(`${name}: ${warning}`));
}

/** The daemon has no exit code to give: what -i --if-new would exit 3 for is a warning in the log, and the daemon goes on. */
async function runReceiveJob(context: JobContext, signal: AbortSignal): Promise<void> {
  const { config, logger } = context;
  const storage = context.storage();
  const result = await runReceive(config, {
    clientName: config.receiveClient, storage, onEvent: (message) => logger.info(`receive: ${message}`), signal,
    onStopped: (gaps) => { for (const line of restoreGapLines(gaps)) logger.warn(`receive: ${line}`); },
  });
  for (const warning of receiveGapWarnings(result, config.receiveClient ?? 'this node', storage?.file, config.receiveIgnore)) logger.warn(`receive: ${warning}`);
  for (const warning of loadWarningsOf(result.applied)) logger.warn(`receive: ${warning}`);
  for (const line of restoreGapLines(result.files)) logger.warn(`receive: ${line}`);
  if (result.rebased !== undefined) logger.warn(`receive: ${result.rebased}`);
  const incomplete = incompleteBackupsOf(result);
  for (const backup of incomplete) logger.warn(`receive: ${incompleteBackupWarning(backup)}`);
  const incompleteNote = incomplete.length > 0 ? `incomplete: ${incomplete.map((backup) => backup.backupId).join(', ')}` : undefined;
  const summary = result.applied.length === 0
    ? `receive: nothing new from ${config.receiveClient} (last applied: ${result.previous?.backupId ?? 'none'}${incompleteNote ? `, ${incompleteNote}` : ''})`
    : `receive: applied backups ${result.applied.map(({ backup }) => backup.backupId).join(', ')} from ${config.receiveClient}`
      + `${incompleteNote ? ` (${incompleteNote})` : ''}`;
  if (incompleteNote === undefined) logger.info(summary);
  else logger.warn(summary);
}
