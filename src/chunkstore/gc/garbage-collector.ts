// Garbage collection that runs beside backups and restores: a short sweep transaction drops rows no
// committed backup and no open session references; packs left empty are doomed, packs mostly dead
// are compacted, small packs merged; doomed objects are deleted once no reader needs them. No lock is held across I/O.
import type { Catalog } from '../catalog/catalog';
import type { Protection, RepairedCount } from '../catalog/garbage-queries';
import type { PackUsage } from '../catalog/packs-table';
import type { DoomedPacks } from './doomed-packs';
import { type CompactionSettings, DamagedChunkError, PackCompaction } from './compaction';
import { DEFAULT_PACK_TARGET_SIZE } from '../pack/pack-writer';
import { sampleOf } from '../kept-packs';
import { escapeBytes } from '../../common/escape-bytes';
import { BackupError, type ErrorCode, errorMessage, isDiskFullCode } from '../../common/errors';

export interface GarbageReport {
  readonly deletedContents: number;
  readonly deletedChunks: number;
  readonly deletedPacks: number;
  readonly rewrittenPacks: number;
  readonly freedBytes: number;
  /** Packs left as they are because a live chunk in them is damaged (now marked so: the next backup of its bytes stores them again). */
  readonly damagedPacks: number;
  /** The live chunks of those packs that did not read back, every one marked damaged. */
  readonly damagedChunks: number;
  /** Those packs' names, for the log. */
  readonly damagedPackNames: readonly string[];
  /** Reference counts that said unused while rows still used them: repaired, nothing of theirs deleted (damage to report). */
  readonly repairedCounts: readonly RepairedCount[];
}

/**
 * A collection that stopped on a failure (a pack that cannot be read, a full disk for a compaction), with
 * what it had done by then: the space it freed was only in the log's "gc failed" line's absence before.
 */
export class GarbageCollectionError extends BackupError {
  constructor(readonly report: GarbageReport, cause: unknown) {
    super(codeOf(cause), `garbage collection stopped: ${errorMessage(cause)}; by then it had deleted ${report.deletedPacks} `
      + `pack${report.deletedPacks === 1 ? '' : 's'} and rewritten ${report.rewrittenPacks}, freeing ${report.freedBytes} bytes `
      + '(what is left is tried again at the next collection)', { cause });
    // The log prints the stack: where the failure came from must stay in it, not only where it was wrapped.
    if (cause instanceof Error && cause.stack !== undefined) this.stack = `${this.stack ?? this.message}\nCaused by: ${cause.stack}`;
  }
}

/** For the log and `gc`: the packs a collection left because live chunks in them are damaged, named, and what was done. */
export function describeDamagedPacks(report: GarbageReport): string {
  const isOne = report.damagedPacks === 1;
  return `${report.damagedPacks} pack${isOne ? '' : 's'} not rewritten (${sampleOf(report.damagedPackNames, report.damagedPacks)}): `
    + `${report.damagedChunks} live chunk${report.damagedChunks === 1 ? '' : 's'} in ${isOne ? 'it' : 'them'} did not read back and `
    + `${report.damagedChunks === 1 ? 'is' : 'are'} marked damaged (the next backup holding their bytes stores them again; `
    + 'run check to see which files they break)';
}

/** The cause's code stays the error's; a full disk the store met raw (ENOSPC, EDQUOT, SQLITE_FULL) is DISK_FULL. */
function codeOf(cause: unknown): ErrorCode {
  if (cause instanceof BackupError) return cause.code;
  return isDiskFullCode((cause as { code?: unknown } | undefined)?.code) ? 'DISK_FULL' : 'IO';
}

export interface GarbageCollectorDependencies extends CompactionSettings {
  readonly doomed: DoomedPacks;
  readonly protection: Protection;
}

/** A pack whose live share is below this is rewritten; an empty one is deleted outright. */
const COMPACT_BELOW_LIVE_SHARE = 0.5;
/**
 * A pack smaller than this share of pack_size is small: a backup's last pack, or an older compaction's.
 * Small packs are merged once together they make a pack that is not small, so each byte is rewritten
 * about once, not at every collection.
 */
const SMALL_PACK_SHARE = 0.25;
/** At most this many pack_sizes of small packs are merged by a collection beside backups (gc --all merges them all). */
const SMALL_PACKS_MERGED_PER_RUN = 4;

/** allPacks: look at every pack (the `gc` command), not only the ones this sweep touched. */
export async function collectGarbage(dependencies: GarbageCollectorDependencies, allPacks: boolean): Promise<GarbageReport> {
  const { catalog, doomed } = dependencies;
  const swept = catalog.garbage.sweep(() => dependencies.protection);
  // This sweep's packs and those earlier runs left (a compaction failed on a full disk, or the server
  // was killed after the sweep): recorded with their sweep, so none is forgotten with a process.
  const pending = catalog.garbage.pendingPacks();
  const finish = (packId: number): void => catalog.garbage.finishPack(packId);
  // Every run also takes the packs left empty: a crash between compaction's move and its doom leaves one.
  const usages = allPacks ? catalog.packs.usage() : withEmptyPacks(pending.flatMap((packId) => catalog.packs.usageOf(packId) ?? []), catalog);
  const known = new Set(usages.map((usage) => usage.id));
  for (const packId of pending) if (!known.has(packId)) finish(packId);
  let deletedPacks = 0;
  let rewrittenPacks = 0;
  let damagedPacks = 0;
  let damagedChunks = 0;
  const damagedPackNames: string[] = [];
  let freedBytes = 0;
  // Delete before writing: dead packs go first, so a compaction on a nearly full disk finds the space they held.
  for (const usage of usages.filter((candidate) => candidate.liveBytes === 0)) {
    if (doomed.doom(usage.id, usage.name)) {
      deletedPacks++;
      freedBytes += usage.size;
      finish(usage.id);
    }
  }
  await doomed.deleteReady();
  const isSparse = (usage: PackUsage): boolean => usage.liveBytes / Math.max(usage.size, 1) < COMPACT_BELOW_LIVE_SHARE;
  const live = usages.filter((candidate) => candidate.liveBytes > 0);
  for (const usage of live) if (!isSparse(usage)) finish(usage.id);
  const sparse = live.filter(isSparse);
  const targetSize = dependencies.packWriting.targetSize ?? DEFAULT_PACK_TARGET_SIZE;
  const rewrite = [...sparse, ...smallPacksToMerge(catalog, targetSize, sparse, allPacks ? Number.POSITIVE_INFINITY : targetSize * SMALL_PACKS_MERGED_PER_RUN)];
  let failure: unknown;
  if (rewrite.length > 0) {
    const compaction = new PackCompaction(dependencies);
    for (const usage of rewrite) {
      try {
        await compaction.copyLive(usage);
      } catch (error) {
        if (error instanceof DamagedChunkError) {
          // A backup stored the chunks' bytes afresh while the pack was read: their rows moved to the new copies
          // (healed), and what is left here is dead. The pack stays unfinished: the next run compacts it.
          const marked = catalog.chunks.markDamaged(error.places);
          if (marked === 0) continue;
          // Rewriting would carry the damage on or drop a live chunk; every later run would fail on it
          // again. Every chunk that did not read back is marked damaged (as check marks them), so the next
          // backup holding their bytes stores them all again; the pack keeps them: only gc --all looks at it again.
          finish(usage.id);
          damagedPacks++;
          damagedChunks += marked;
          damagedPackNames.push(usage.name);
          continue;
        }
        // The pack stays as it was, and pending; one that cannot be read does not stop the others.
        failure ??= error;
        if (compaction.hasFailedWriting) break;
      }
    }
    try {
      await compaction.finish();
    } catch (error) {
      failure ??= error;
      await compaction.discard();
    }
    // Doomed only once no row points into it: a pack whose copy failed part way keeps what did not move.
    for (const usage of rewrite) {
      if (!doomed.doom(usage.id, usage.name)) continue;
      finish(usage.id);
      rewrittenPacks++;
      freedBytes += compaction.freedBytesOf(usage);
    }
  }
  await doomed.deleteReady();
  const report = {
    deletedContents: swept.deletedContents, deletedChunks: swept.deletedChunks, deletedPacks, rewrittenPacks, freedBytes, damagedPacks,
    damagedChunks, damagedPackNames, repairedCounts: swept.repairedCounts,
  };
  if (failure !== undefined) throw new GarbageCollectionError(report, failure);
  return report;
}

/**
 * The store's small packs (beside the sparse ones rewritten anyway), oldest first, when merging them
 * makes a pack that is not small. A collection beside backups merges at most mergeLimit bytes: a store
 * that has gathered a year of nightly small packs is merged over a few collections, not in one.
 */
function smallPacksToMerge(catalog: Catalog, targetSize: number, sparse: readonly PackUsage[], mergeLimit: number): PackUsage[] {
  const smallSize = targetSize * SMALL_PACK_SHARE;
  const rewritten = new Set(sparse.map((usage) => usage.id));
  const chosen: PackUsage[] = [];
  let liveBytes = 0;
  for (const usage of catalog.packs.small(smallSize)) {
    if (usage.liveBytes === 0 || rewritten.has(usage.id)) continue;
    if (liveBytes + usage.liveBytes > mergeLimit) break;
    chosen.push(usage);
    liveBytes += usage.liveBytes;
  }
  return chosen.length >= 2 && liveBytes >= smallSize ? chosen : [];
}

/** The log's words for counts a sweep repaired: each row, the file a content's count left exposed. */
export function describeRepairedCounts(repaired: readonly RepairedCount[]): string[] {
  return repaired.map((count) => count.kind === 'chunk'
    ? `the reference count of chunk ${count.id} said unused while ${count.now} content${count.now === 1 ? ' lists' : 's list'} it: repaired, not deleted`
    : `the reference count of content ${count.id} said unused while ${count.now} committed entr${count.now === 1 ? 'y uses' : 'ies use'} it `
      + `(client ${count.example?.clientName ?? '?'}, backup ${count.example?.backupNumber ?? '?'}, ${escapeBytes(count.example?.path ?? Buffer.alloc(0))}`
      + `${count.now > 1 ? ', …' : ''}): repaired, not deleted`);
}

function withEmptyPacks(usages: PackUsage[], catalog: Catalog): PackUsage[] {
  const listed = new Set(usages.map((usage) => usage.id));
  return [...usages, ...catalog.packs.empty().filter((usage) => !listed.has(usage.id))];
}
