// Runs each source's version_command and keeps its first output line as 'version.<source>'.
// Stored with the backup, it says which application version wrote the dump (needed to load it).
import { DumpFailedError } from '../../common/errors';
import { describeFailure, isSuccess, startProcess, type ProcessOutcome } from './child-process';
import { shellCommand } from './shell';
import type { DumpSource } from './storage-config';

const VERSION_TIMEOUT_SECONDS = 60;
/** What bash reports for a pipeline whose rightmost failing member was killed by SIGPIPE: 128 + 13. */
const PIPE_CUT_STATUS = 141;

export async function versionLabels(sources: readonly DumpSource[]): Promise<Record<string, string>> {
  const labels: Record<string, string> = {};
  await Promise.all(sources.map(async (source) => {
    if (source.versionCommand === undefined) return;
    const timeoutSeconds = Math.min(source.timeoutSeconds, VERSION_TIMEOUT_SECONDS);
    // With pipefail, as dump commands run: `app --version | head -1` must fail when app does.
    const refused = (reason: Error): Error => new DumpFailedError(source.name, `version_command not run: ${reason.message}`);
    const { file, args } = shellCommand(source.versionCommand, { refused });
    const outcome = await startProcess(file, args, { stdin: 'ignore', stdout: 'capture', timeoutSeconds }).outcome;
    const label = outcome.stdoutHead.split('\n', 1)[0].trim();
    if (!isSuccess(outcome) && !isCutAfterFirstLine(outcome, label)) {
      // The operator asked for the label; a backup without it would pass for one that has it.
      const cut = outcome.code === PIPE_CUT_STATUS ? ' (a command before a | was killed by SIGPIPE) before any first line of output' : '';
      throw new DumpFailedError(source.name, `version_command ${describeFailure(outcome, timeoutSeconds)}${cut}`, outcome.stderrTail);
    }
    if (label === '') {
      // An empty label says no more than none, and would pass for a version all the same.
      throw new DumpFailedError(source.name, 'version_command exited 0 but its first line of output is empty; the version is its first line',
        outcome.stderrTail);
    }
    labels[`version.${source.name}`] = label;
  }));
  return labels;
}

/**
 * `app --version | head -1` (or `dpkg -l | grep app | head -1`): head exits after the one line we use,
 * and app, writing more, dies of SIGPIPE; under pipefail the pipeline then exits 141, for any output
 * larger than a pipe's buffer and at random for small ones. That status with a first line read is the
 * producer cut off after what we needed: success. A producer that failed on its own exits with its own
 * code (`false | head -1` is 1), and a 141 with nothing read is no version. A command killed by
 * SIGPIPE alone (not a pipeline's member) comes as a signal, not a code, and still fails. pipefail
 * names only the rightmost failing member: one failing left of a member cut this way goes unseen.
 */
function isCutAfterFirstLine(outcome: ProcessOutcome, label: string): boolean {
  return outcome.code === PIPE_CUT_STATUS && outcome.signal === null && label !== ''
    && isSuccess({ ...outcome, code: 0 });
}
