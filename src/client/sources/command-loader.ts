// Loads a command source's restored dump: `load` (or `load_partial`) reads it on stdin, or gets
// its path where the command says `{file}` (for tools such as pg_restore that want to seek).
import { runLoader } from './run-loader';
import { shellCommand, shellQuote } from './shell';
import type { CommandSource } from './storage-config';

export async function loadCommandDump(source: CommandSource, path: string, isPartial: boolean): Promise<void> {
  const template = isPartial && source.loadPartial !== undefined ? source.loadPartial : source.load;
  const usesPath = template.includes('{file}');
  const command = usesPath ? template.replaceAll('{file}', shellQuote(path)) : template;
  await runLoader(source.name, { ...shellCommand(command), stdinPath: usesPath ? undefined : path }, source.timeoutSeconds);
}
