// Runs node.conf's `postprocess =` shell command after a receive loaded its dumps; its exit
// status decides whether the receive is recorded as applied.
import { DEFAULT_TIMEOUT_SECONDS } from '../sources/storage-config';
import { describeFailure, isSuccess, startProcess } from '../sources/child-process';
import { LoadFailedError } from '../../common/errors';
import { shellCommand } from '../sources/shell';

export interface PostprocessContext {
  readonly client: string;
  readonly backupId: number;
  readonly kind: 'complete' | 'partial';
  /** Every backup this receive loaded, oldest first. */
  readonly appliedBackupIds: readonly number[];
}

/**
 * The command as dumps and loads run theirs (shell.ts: with pipefail, so `reindex | logger` fails when
 * reindex does, and the receive is not recorded as applied), with the context in CPSBACKUP_*
 * variables; its stdout goes to our stderr, so a daemon's log shows it and a CLI's stdout stays for
 * the report. Throws LoadFailedError with its stderr tail on a non-zero exit, a signal or the timeout.
 */
export async function runPostprocess(command: string, context: PostprocessContext,
  timeoutSeconds = DEFAULT_TIMEOUT_SECONDS): Promise<void> {
  const shell = shellCommand(command, { refused: (reason) => new LoadFailedError('postprocess', `not run: ${reason.message}`) });
  const running = startProcess(shell.file, shell.args, {
    stdin: 'ignore',
    stdout: 2,
    timeoutSeconds,
    env: {
      ...process.env,
      CPSBACKUP_CLIENT: context.client,
      CPSBACKUP_BACKUP_ID: String(context.backupId),
      CPSBACKUP_BACKUP_KIND: context.kind,
      CPSBACKUP_APPLIED_BACKUPS: context.appliedBackupIds.join(','),
    },
  });
  const outcome = await running.outcome;
  if (!isSuccess(outcome)) {
    throw new LoadFailedError('postprocess', `${describeFailure(outcome, timeoutSeconds)}${outcome.stderrTail ? `\n${outcome.stderrTail}` : ''}`);
  }
}
