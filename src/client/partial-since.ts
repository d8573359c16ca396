// Where a new partial backup starts: when the newest committed backup began dumping, less an overlap.
// Apart from partial-chain.ts (the restore of a chain) so that a backup loads no restore code.
import { NotFoundError } from '../common/errors';
import type { BackupSummary } from '../proto/cpsbackup';
import { PartialBase } from './sources/partial-base';

/** Label the uploader puts on every backup with dumps: the client's clock when its dumpers started. */
export const DUMPS_STARTED_LABEL = 'dumps.started_at';

/** Covers clock differences between this node, its databases and the server, and slow transactions
 *  that commit rows stamped before the previous dump began. Partial loads are upserts, so rows seen
 *  twice cost nothing but bytes. */
export const PARTIAL_OVERLAP_MILLISECONDS = 5 * 60 * 1000;

/**
 * The time a partial backup dumps changes from: when the newest committed backup (complete or
 * partial) began dumping, minus the overlap. The dump start is the right edge, not the backup's
 * finish: a dump is a snapshot taken when it starts, so rows changed while it ran are not in it.
 * The client-clock label is preferred to the server's start time, which comes a little later and
 * on another clock. It carries that backup's labels too: database sources take each table's mark
 * from them rather than a time. Throws NotFoundError when there is no backup to be partial to.
 */
export function partialSinceOf(backups: readonly BackupSummary[], overlapMilliseconds = PARTIAL_OVERLAP_MILLISECONDS): PartialBase {
  const newest = [...backups].sort((left, right) => left.backupId - right.backupId).at(-1);
  if (newest === undefined) throw new NotFoundError('no backup yet: a partial backup needs a complete one before it (run cpsbackup -e)');
  const label = Date.parse(newest.labels[DUMPS_STARTED_LABEL] ?? '');
  const startedAt = Number.isFinite(label) ? Math.min(label, newest.startedAtMs) : newest.startedAtMs;
  return new PartialBase(startedAt - overlapMilliseconds, { ...newest.labels }, newest.backupId);
}
