// The CLI face of a receive (`-i --if-new`): what was applied, or that nothing was new, in one
// line each; errors are thrown for the CLI's one error line and exit code.
import type { NodeConfig } from '../../common/config/node-config';
import type { StorageConfig } from '../sources/storage-config';
import type { LoadInto } from '../sources/load-into';
import { runReceive } from './receiver';

export interface ReceiveOutput {
  out(text: string): void;
  err(text: string): void;
}

/** Returns 0 (also when nothing was new); failures throw (LoadFailedError → exit 3). */
export async function receiveIfNew(config: NodeConfig, clientName: string | undefined, storage: StorageConfig | undefined,
  output: ReceiveOutput, loadInto?: LoadInto): Promise<number> {
  const result = await runReceive(config, { clientName, storage, loadInto, onEvent: (message) => output.err(`${message}\n`) });
  const from = clientName === undefined ? '' : ` of ${clientName}`;
  if (result.applied.length === 0) {
    output.out(result.previous === undefined
      ? `Nothing new: no backup${from} to receive yet\n`
      : `Nothing new: backup ${result.previous.backupId}${from} (${result.previous.kind}) is already applied\n`);
    return 0;
  }
  const ids = result.applied.map(({ backup }) => backup.backupId).join(', ');
  const loads = result.applied.reduce((count, { loads }) => count + loads.length, 0);
  output.out(`Received backup${result.applied.length > 1 ? 's' : ''} ${ids}${from}: ${loads} dumps loaded`
    + `${config.postprocess !== undefined ? ', postprocess done' : ''}; backup ${result.state?.backupId} recorded as applied\n`);
  return 0;
}
