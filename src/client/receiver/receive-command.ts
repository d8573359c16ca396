// The CLI face of a receive (`-i --if-new`): what was applied, or that nothing was new, in one
// line each; errors are thrown for the CLI's one error line and exit code.
import type { NodeConfig } from '../../common/config/node-config';
import type { StorageConfig } from '../sources/storage-config';
import type { LoadInto } from '../sources/load-into';
import type { OverwritePolicy } from '../overwrite-policy';
import { runReceive } from './receiver';

export interface ReceiveOutput {
  out(text: string): void;
  err(text: string): void;
}

/**
 * Returns 0 (also when nothing was new), 3 when receive_files kept existing files that differ (the overwrite
 * policy) or skipped what needs root, each listed as -i lists them; failures throw (LoadFailedError → exit 3).
 */
export async function receiveIfNew(config: NodeConfig, clientName: string | undefined, storage: StorageConfig | undefined,
  output: ReceiveOutput, loadInto?: LoadInto, overwrite?: OverwritePolicy): Promise<number> {
  const result = await runReceive(config, { clientName, storage, loadInto, overwrite, onEvent: (message) => output.err(`${message}\n`) });
  const from = clientName === undefined ? '' : ` of ${clientName}`;
  if (result.applied.length === 0) {
    output.out(result.previous === undefined
      ? `Nothing new: no backup${from} to receive yet\n`
      : `Nothing new: backup ${result.previous.backupId}${from} (${result.previous.kind}) is already applied\n`);
    return 0;
  }
  const ids = result.applied.map(({ backup }) => backup.backupId).join(', ');
  const loads = result.applied.reduce((count, { loads }) => count + loads.length, 0);
  const files = result.files;
  for (const kept of files?.keptExisting ?? []) output.err(`not replaced: ${kept}\n`);
  for (const skipped of files?.needsRoot ?? []) output.err(`skipped: ${skipped}\n`);
  const gaps = (files?.keptExisting.length ?? 0) + (files?.needsRoot.length ?? 0);
  const filesText = files === undefined ? '' : `, ${files.files} files restored under ${files.to}`
    + `${gaps > 0 ? ` (${gaps} entries not restored as they are in the backup, see above)` : ''}`;
  output.out(`Received backup${result.applied.length > 1 ? 's' : ''} ${ids}${from}: ${loads} dumps loaded${filesText}`
    + `${config.postprocess !== undefined ? ', postprocess done' : ''}; backup ${result.state?.backupId} recorded as applied\n`);
  return gaps > 0 ? 3 : 0;
}
