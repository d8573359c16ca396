// Loads a command source's restored dump: `load` (or `load_partial`) reads it on stdin, or gets
// its path where the command says `{file}` (for tools such as pg_restore that want to seek).
import { LoadFailedError } from '../../common/errors';
import type { DumpKind } from './dump-kind';
import { runLoader } from './run-loader';
import { shellCommand, shellQuote } from './shell';
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
  const command = usesPath ? template.replaceAll('{file}', shellQuote(path)) : template;
  const refused = (reason: Error): Error => new LoadFailedError(source.name, `not run: ${reason.message}; file kept`);
  await runLoader(source.name, { ...shellCommand(command, { template, refused }), stdinPath: usesPath ? undefined : path }, source.timeoutSeconds);
}
