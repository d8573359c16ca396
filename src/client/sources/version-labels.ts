// Runs each source's version_command and keeps its first output line as 'version.<source>'.
// Stored with the backup, it says which application version wrote the dump (needed to load it).
import { DumpFailedError } from '../../common/errors';
import { describeFailure, isSuccess, startProcess } from './child-process';
import type { DumpSource } from './storage-config';

const VERSION_TIMEOUT_SECONDS = 60;

export async function versionLabels(sources: readonly DumpSource[]): Promise<Record<string, string>> {
  const labels: Record<string, string> = {};
  await Promise.all(sources.map(async (source) => {
    if (source.versionCommand === undefined) return;
    const timeoutSeconds = Math.min(source.timeoutSeconds, VERSION_TIMEOUT_SECONDS);
    const outcome = await startProcess('sh', ['-c', source.versionCommand], { stdin: 'ignore', stdout: 'capture', timeoutSeconds }).outcome;
    if (!isSuccess(outcome)) {
      // The operator asked for the label; a backup without it would pass for one that has it.
      throw new DumpFailedError(source.name, `version_command ${describeFailure(outcome, timeoutSeconds)}`, outcome.stderrTail);
    }
    labels[`version.${source.name}`] = outcome.stdoutHead.split('\n', 1)[0].trim();
  }));
  return labels;
}
