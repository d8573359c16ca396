// The CLI face of a receive (`-i --if-new`): what was applied, or that nothing was new, in one
// line each; errors are thrown for the CLI's one error line and exit code.
import type { NodeConfig } from '../../common/config/node-config';
import type { StorageConfig } from '../sources/storage-config';
import type { LoadInto } from '../sources/load-into';
import type { OverwritePolicy } from '../overwrite-policy';
import { incompleteBackupWarning } from '../incomplete-backup';
import { loadWarningsOf, runReceive } from './receiver';
import { incompleteBackupsOf } from './receive-incomplete';
import { receiveGapWarnings } from './receive-gaps';
import { linesAbove, restoreGapLines } from '../restore-gap-lines';

export interface ReceiveOutput {
  out(text: string): void;
  err(text: string): void;
}

/**
 * Returns 0 (also when nothing was new), 3 when receive_files kept existing files that differ (the overwrite
 * policy) or skipped what needs root, each listed as -i lists them, or when the backup applied (now or, with
 * nothing new, last time) is incomplete, warned as -i warns, or when the last applied backup was not on the server as
 * applied and the receive started again from a complete backup, or when a dump of the sender's has no source here or
 * a source named here is not in its backup (recorded: said again while nothing is new); failures throw (LoadFailedError, ReplicaMismatchError → exit 3).
 * signal (Ctrl-C): a restore stops at its next entry and lists what it kept or failed so far; nothing is recorded.
 */
export async function receiveIfNew(config: NodeConfig, clientName: string | undefined, storage: StorageConfig | undefined,
  output: ReceiveOutput, loadInto?: LoadInto, overwrite?: OverwritePolicy, signal?: AbortSignal): Promise<number> {
  const result = await runReceive(config, {
    clientName, storage, loadInto, overwrite, signal, onEvent: (message) => output.err(`${message}\n`),
    onStopped: (gaps) => { for (const line of restoreGapLines(gaps)) output.err(`${line}\n`); },
  });
  const from = clientName === undefined ? '' : ` of ${clientName}`;
  const incomplete = incompleteBackupsOf(result);
  for (const backup of incomplete) output.err(`warning: ${incompleteBackupWarning(backup)}\n`);
  const notLoaded = receiveGapWarnings(result, clientName ?? 'this node', storage?.file, config.receiveIgnore);
  for (const warning of notLoaded) output.err(`warning: ${warning}\n`);
  // Loaded, exit 0: what the operator must still know (a partition kept here as a table of its own).
  for (const warning of loadWarningsOf(result.applied)) output.err(`warning: ${warning}\n`);
  if (result.applied.length === 0) {
    const notes = [...incomplete.length > 0 ? ['incomplete'] : [], ...notLoaded.length > 0 ? ['sources not loaded, see the warning above'] : []];
    output.out(result.previous === undefined
      ? `Nothing new: no backup${from} to receive yet\n`
      : `Nothing new: backup ${result.previous.backupId}${from} (${[result.previous.kind, ...notes].join(', ')}) is already applied\n`);
    return incomplete.length > 0 || notLoaded.length > 0 ? 3 : 0;
  }
  const ids = result.applied.map(({ backup }) => backup.backupId).join(', ');
  const loads = result.applied.reduce((count, { loads }) => count + loads.length, 0);
  const files = result.files;
  for (const line of restoreGapLines(files)) output.err(`${line}\n`);
  const gaps = (files?.keptExisting.length ?? 0) + (files?.needsRoot.length ?? 0);
  const filesText = files === undefined ? '' : `, ${files.files} files restored under ${files.to}`
    + `${gaps > 0 ? ` (not all restored as it is in the backup: ${linesAbove(gaps)})` : ''}`;
  // Loaded and recorded, but the replica followed another backup before: the operator must hear of it once.
  if (result.rebased !== undefined) output.err(`warning: ${result.rebased}\n`);
  output.out(`Received backup${result.applied.length > 1 ? 's' : ''} ${ids}${from}: ${loads} dumps loaded${filesText}`
    + `${config.postprocess !== undefined ? ', postprocess done' : ''}; backup ${result.state?.backupId} recorded as applied`
    + `${incomplete.length > 0 ? ` (incomplete: ${incomplete.map((backup) => backup.backupId).join(', ')}, see the warning above)` : ''}`
    + `${notLoaded.length > 0 ? ` (${notLoaded.length} dumps or sources not loaded, see the warnings above)` : ''}\n`);
  return gaps > 0 || incomplete.length > 0 || notLoaded.length > 0 || result.rebased !== undefined ? 3 : 0;
}
