// receive_files = 1: after the dumps are loaded, the sender's files (every entry of its newest
// backup but the dumps) are restored under receive_to, at their original paths, with -i's overwrite rules.
import type { NodeConfig } from '../../common/config/node-config';
import type { ReceiveFilesSettings } from '../../common/config/receive-keys';
import { CorruptError } from '../../common/errors';
import type { OverwritePolicy } from '../overwrite-policy';
import type { BackupSummary } from '../../proto/cpsbackup';
import { runRestore, type RestoreGaps, type RestoreResult } from '../restorer';

export interface FilesReceived {
  readonly to: string;
  readonly overwrite: OverwritePolicy;
  readonly files: number;
  readonly bytes: number;
  /** Existing entries that differ and that the policy kept, and entries skipped for lack of root: reported (exit 3). */
  readonly keptExisting: readonly string[];
  readonly needsRoot: readonly string[];
}

/**
 * Only the newest backup matters: each backup holds every file. Throws CorruptError when entries could
 * not be restored (a damaged chunk, a symlink on the way), so the receive is not recorded and is retried;
 * entries kept by the overwrite policy are a choice, returned for the report, not a failure.
 */
export async function receiveFiles(config: NodeConfig, settings: ReceiveFilesSettings, backup: BackupSummary,
  clientName: string | undefined, overwrite: OverwritePolicy = settings.overwrite, onStopped?: (gaps: RestoreGaps) => void,
  signal?: AbortSignal): Promise<FilesReceived> {
  // The server leaves the dumps out: naming every path beside them made a request as large as the folder holding them.
  const result: RestoreResult = await runRestore(config, {
    backupId: backup.backupId, to: settings.to, clientName, skipFifoContent: true, overwrite, onStopped, signal,
  });
  if (result.failures.length > 0) {
    throw new CorruptError(`backup ${backup.backupId}: files not restored under ${settings.to}: ${result.failures.join('; ')}`);
  }
  return {
    to: settings.to, overwrite, files: result.progress.files, bytes: result.progress.writtenBytes, keptExisting: result.keptExisting, needsRoot: result.needsRoot,
  };
}
