// Checked when a backup starts, before anything is written: the store's disk above min_free, and the
// client below its hard_quota. A refusal is a LimitError; the upload handler reports it as a failure.
// An admitted backup gets its bound: the rest of the hard_quota, which the store enforces as it writes.
import { LimitError } from '../../common/errors';
import type { StoredBytesLimit } from '../../chunkstore/session';
import type { ServerContext } from '../server-context';
import { minFreeShortageAfterRelease } from './room-for-writes';
import { effectiveQuotas, hardQuotaRefusal, hardQuotaStop } from './quota-rules';

/** Refuses the backup, or admits it with the most it may store (undefined: no hard_quota). */
export async function admitBackup(context: ServerContext, clientName: string): Promise<StoredBytesLimit | undefined> {
  const { config, store } = context;
  const shortage = await minFreeShortageAfterRelease(context);
  // The server's disk and settings are its own business: the client hears why, the log and notification how much.
  if (shortage !== undefined) {
    throw new LimitError(`backup of client "${clientName}" refused: the server's store is low on free space (see the server log)`, shortage);
  }
  const quotas = effectiveQuotas(context.clients.current.byName(clientName), config.quotas);
  if (quotas.hardQuotaBytes === undefined) return undefined;
  const usageBytes = store.clientUsage(clientName).bytes;
  const refusal = hardQuotaRefusal(clientName, usageBytes, quotas);
  if (refusal !== undefined) throw new LimitError(refusal);
  const hardQuotaBytes = quotas.hardQuotaBytes;
  // Only one backup of a client runs at a time, so its usage grows by what this one stores alone.
  return {
    maxStoredBytes: hardQuotaBytes - usageBytes,
    exceeded: (wouldStore) => new LimitError(hardQuotaStop(clientName, usageBytes, wouldStore, hardQuotaBytes)),
  };
}
