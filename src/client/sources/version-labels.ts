// Runs each source's version_command and keeps its first output line as 'version.<source>'.
// Stored with the backup, it says which application version wrote the dump (needed to load it).
import { DumpFailedError } from '../../common/errors';
import { describeFailure, isSuccess, startProcess } from './child-process';
import { shellCommand } from './shell';
import type { DumpSource } from './storage-config';

const VERSION_TIMEOUT_SECONDS = 60;

export async function versionLabels(sources: readonly DumpSource[]): Promise<Record<string, string>> {
  const labels: Record<string, string> = {};
  await Promise.all(sources.map(async (source) => {
    if (source.versionCommand === undefined) return;
    const timeoutSeconds = Math.min(source.timeoutSeconds, VERSION_TIMEOUT_SECONDS);
    // With pipefail, as dump commands run: `app --version | head -1` must fail when app does.
    const refused = (reason: Error): Error => new DumpFailedError(source.name, `version_command not run: ${reason.message}`);
    const { file, args } = shellCommand(source.versionCommand, { refused });
    const outcome = await startProcess(file, args, { stdin: 'ignore', stdout: 'capture', timeoutSeconds }).outcome;
    if (!isSuccess(outcome)) {
      // The operator asked for the label; a backup without it would pass for one that has it.
      throw new DumpFailedError(source.name, `version_command ${describeFailure(outcome, timeoutSeconds)}`, outcome.stderrTail);
    }
    const label = outcome.stdoutHead.split('\n', 1)[0].trim();
    if (label === '') {
      // An empty label says no more than none, and would pass for a version all the same.
      throw new DumpFailedError(source.name, 'version_command exited 0 but its first line of output is empty; the version is its first line',
        outcome.stderrTail);
    }
    labels[`version.${source.name}`] = label;
  }));
  return labels;
}
