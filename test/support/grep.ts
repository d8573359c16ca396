// grep -r over a folder of downloaded objects: the bar for "the bucket reveals nothing".
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Exit code of grep -r: 0 when something matched, 1 when nothing did. */
export async function grepExitCode(pattern: string, folder: string): Promise<number> {
  try {
    await execFileAsync('grep', ['-r', '-a', '-l', '-F', pattern, folder]);
    return 0;
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
}
