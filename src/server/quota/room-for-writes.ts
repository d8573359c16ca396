// Whether the store's disk is above min_free, after giving up what only interrupted backups' retries
// keep (resume_hold): they are a cache, and kept, one aborted backup refused every client for a day.
import { errorMessage } from '../../common/errors';
import type { ServerContext } from '../server-context';
import { freeBytesOf } from './free-space';
import { minFreeShortage } from './quota-rules';

/** The longest a backup waits for the collection that frees held chunks; past it the space is measured anyway. */
const MAX_COLLECTION_WAIT_MILLISECONDS = 60_000;

/**
 * The log-only shortage when the disk holding the store is below min_free even after the chunks held
 * for retries were released and collected; undefined when there is room (or no min_free).
 */
export async function minFreeShortageAfterRelease(context: Pick<ServerContext, 'config' | 'store' | 'maintenance' | 'logger'>): Promise<string | undefined> {
  const { config, store, maintenance, logger } = context;
  if (config.minFreeBytes === undefined) return undefined;
  const shortage = minFreeShortage(await freeBytesOf(config.directory), config.minFreeBytes);
  if (shortage === undefined) return undefined;
  const released = store.endRetryHolds();
  if (released.holds === 0) return shortage;
  logger.warn(`${shortage}: the chunks ${released.backups} interrupted backup${released.backups === 1 ? '' : 's'} held for a retry `
    + `(resume_hold, ${released.holds} holds) are released and collected now; a retry sends them again`);
  let timer: NodeJS.Timeout | undefined;
  // A collection waits for a check or another collection in progress: the backup does not wait for ever.
  await Promise.race([
    maintenance.collectGarbage().catch((error: unknown) => logger.error(`gc after releasing held chunks failed: ${errorMessage(error)}`)),
    new Promise<void>((resolve) => { timer = setTimeout(resolve, MAX_COLLECTION_WAIT_MILLISECONDS); }),
  ]);
  clearTimeout(timer);
  return minFreeShortage(await freeBytesOf(config.directory), config.minFreeBytes);
}
