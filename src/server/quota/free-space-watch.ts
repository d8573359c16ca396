// min_free while a backup writes: the disk is measured again every WATCH_INTERVAL_BYTES the backup
// stores, not per chunk (a statfs each), and the backup stops once the disk is below min_free.
import { LimitError } from '../../common/errors';
import type { ServerContext } from '../server-context';
import { minFreeShortageAfterRelease } from './room-for-writes';

/** A backup may take the disk this far below min_free (plus one message) before it is stopped. */
export const WATCH_INTERVAL_BYTES = 16 * 1024 * 1024;

export class FreeSpaceWatch {
  private checkedAt = 0;

  constructor(
    private readonly context: Pick<ServerContext, 'config' | 'store' | 'maintenance' | 'logger'>,
    private readonly clientName: string,
  ) {}

  /** After a message: `writtenBytes` is what the backup has stored so far. Throws a LimitError below min_free. */
  async check(writtenBytes: number): Promise<void> {
    if (this.context.config.minFreeBytes === undefined || writtenBytes - this.checkedAt < WATCH_INTERVAL_BYTES) return;
    this.checkedAt = writtenBytes;
    const shortage = await minFreeShortageAfterRelease(this.context);
    // As at the start: the client hears why, the log and notification how much.
    if (shortage !== undefined) {
      throw new LimitError(`backup of client "${this.clientName}" stopped: the server's store is low on free space (see the server log)`, shortage);
    }
  }
}
