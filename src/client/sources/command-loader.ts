// Loads a command source's restored dump: `load` (or `load_partial`) reads it on stdin, or gets
// its path where the command says `{file}` (for tools such as pg_restore that want to seek), through
// the environment variable CPSBACKUP_FILE.
import { LoadFailedError } from '../../common/errors';
import type { DumpKind } from './dump-kind';
import { runLoader } from './run-loader';
import { FILE_VARIABLE, withFileVariable } from './file-placeholder';
import { shellCommand } from './shell';
import type { CommandSource } from './storage-config';

/**
 * A partial dump goes to load_partial only: `load` expects a whole dump and may clear what is there
 * first (pg_restore --clean), which would leave only the recent rows. Without load_partial it is kept.
 */
export async function loadCommandDump(source: CommandSource, path: string, kind: DumpKind): Promise<void> {
  if (kind === 'partial' && source.loadPartial === undefined) {
    throw new LoadFailedError(source.name, 'this dump holds only the changes since the backup before it, and storage.conf has no '
      + 'load_partial for the source; not loaded with load, which expects a whole dump');
  }
  const template = kind !== 'whole' && source.loadPartial !== undefined ? source.loadPartial : source.load;
  const usesPath = template.includes('{file}');
  const refused = (reason: Error): Error => new LoadFailedError(source.name, `not run: ${reason.message}; file kept`);
  let command = template;
  try {
    // The path goes in the environment, never into the command text (file-placeholder.ts).
    if (usesPath) command = withFileVariable(template);
  } catch (error) {
    throw refused(error as Error);
  }
  await runLoader(source.name, {
    ...shellCommand(command, { template, refused }),
    ...(usesPath ? { env: { ...process.env, [FILE_VARIABLE]: path } } : { stdinPath: path }),
  }, source.timeoutSeconds);
}
