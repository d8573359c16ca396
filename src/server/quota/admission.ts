// Checked when a backup starts, before anything is written: the store's disk above min_free, and the
// client below its hard_quota. A refusal is a LimitError; the upload handler reports it as a failure.
import { LimitError } from '../../common/errors';
import type { ServerContext } from '../server-context';
import { freeBytesOf } from './free-space';
import { effectiveQuotas, hardQuotaRefusal, minFreeShortage } from './quota-rules';

export async function admitBackup(context: ServerContext, clientName: string): Promise<void> {
  const { config, store } = context;
  if (config.minFreeBytes !== undefined) {
    const shortage = minFreeShortage(await freeBytesOf(config.directory), config.minFreeBytes);
    // The server's disk and settings are its own business: the client hears why, the log and notification how much.
    if (shortage !== undefined) {
      throw new LimitError(`backup of client "${clientName}" refused: the server's store is low on free space (see the server log)`, shortage);
    }
  }
  const quotas = effectiveQuotas(context.clients.current.byName(clientName), config.quotas);
  if (quotas.hardQuotaBytes === undefined) return;
  const refusal = hardQuotaRefusal(clientName, store.clientUsage(clientName).bytes, quotas);
  if (refusal !== undefined) throw new LimitError(refusal);
}
