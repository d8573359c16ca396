// Brings a store back to a consistent state on open, after any crash (borg: uncommitted work is
// discarded): running backups are dropped, staged packs removed, objects without a catalog row
// deleted (after `recover`, only by an explicit gc), doomed packs deleted, and packs a version-1
// store never sealed re-read and kept only if intact.
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { PackBackend } from './backend/pack-backend';
import type { Catalog } from './catalog/catalog';
import type { BackupRecord } from './catalog/records';
import type { ChunkCodec } from './codec';
import type { RecordFraming } from './pack/record-framing';
import { readChunk } from './pack/pack-reader';
import { isCoverPackName } from './pack/pack-files';
import type { DoomedPacks } from './gc/doomed-packs';
import { CorruptError } from '../common/errors';
import type { Logger } from '../common/logger';

export interface RecoveryReport {
  readonly droppedBackups: number;
  readonly droppedChunks: number;
  readonly removedOrphanPacks: number;
  /**
   * Cover packs a crash left between their put and their delete (pack/cover-writer.ts): deleted too, and
   * counted apart, since they never held anything and are no sign of a lost pack.
   */
  readonly removedCoverPacks: number;
  /** Objects the catalog does not name, kept because it came from `recover` (ORPHANS_HELD_KEY). */
  readonly keptOrphanPacks: number;
}

/**
 * Set by `recover` in the catalog it installs: objects it does not name are kept until an explicit `gc`
 * (sweepHeldOrphans). A recovered catalog may be behind the bucket (an older generation when the newest did
 * not open, packs missing, a drill beside a server that is not gone); what it does not name may then be the
 * only copy of committed backups, and deleting it cannot be undone.
 */
export const ORPHANS_HELD_KEY = 'orphan_packs_held_since_recover';

export interface RecoveryOptions {
  /** How long a failed backup's holds last from its failure (StoreOptions.resumeHoldSeconds): a retry's window. */
  readonly resumeHoldMs: number;
  readonly logger?: Logger;
  /** The explicit `gc` after `recover`: delete the objects the recovered catalog does not name. */
  readonly sweepHeldOrphans?: boolean;
}

export async function recoverStore(catalog: Catalog, backend: PackBackend, codec: ChunkCodec, stagingDirectory: string,
  doomed: DoomedPacks, framing: RecordFraming, options: RecoveryOptions): Promise<RecoveryReport> {
  const { logger, sweepHeldOrphans = false } = options;
  const running = catalog.backups.running();
  for (const backup of running) dropUnfinished(catalog, backup, Date.now() + options.resumeHoldMs, logger);
  for (const file of await readdir(stagingDirectory).catch(() => [] as string[])) await unlink(join(stagingDirectory, file)).catch(() => undefined);
  const droppedChunks = await sealVersionOnePacks(catalog, backend, codec, framing);
  await doomed.deleteReady();
  const orphans = await orphanPacks(catalog, backend);
  let removedOrphanPacks = 0;
  let removedCoverPacks = 0;
  // What a cover write left (a crash between its put and its delete) holds nothing anyone needs, whatever catalog is installed.
  for (const name of orphans.filter(isCoverPackName)) {
    await backend.deletePack(name);
    removedCoverPacks++;
  }
  const orphanedPacks = orphans.filter((name) => !isCoverPackName(name));
  if (catalog.meta.get(ORPHANS_HELD_KEY) === '1' && !sweepHeldOrphans) {
    const keptOrphanPacks = orphanedPacks.length;
    if (keptOrphanPacks > 0) {
      logger?.warn(`${keptOrphanPacks} packs in ${backend.location} are not in the catalog \`recover\` installed: kept until \`cpsbackup-server gc\` `
        + '(run check first; they may hold backups the recovered catalog lacks)');
    }
    return { droppedBackups: running.length, droppedChunks, removedOrphanPacks, removedCoverPacks, keptOrphanPacks };
  }
  for (const name of orphanedPacks) {
    await backend.deletePack(name);
    removedOrphanPacks++;
  }
  if (catalog.meta.get(ORPHANS_HELD_KEY) === '1') catalog.meta.set(ORPHANS_HELD_KEY, '0');
  return { droppedBackups: running.length, droppedChunks, removedOrphanPacks, removedCoverPacks, keptOrphanPacks: 0 };
}

/**
 * A running row is never listed nor restored, and its chunks stay held, so one that a full disk
 * leaves no room to drop can wait for the next open: the store opens, and check, listings and
 * restores of every committed backup work on the full disk.
 */
function dropUnfinished(catalog: Catalog, backup: BackupRecord, holdsExpireAt: number, logger: Logger | undefined): void {
  try {
    // As an abandoned session does: its holds last a retry's window from now, whatever it ran for before the
    // crash; else GC deletes at once what it stored, and the client's retry sends it all again. Before the
    // rows go (their delete runs in steps): a crash in between extends them again at the next open.
    catalog.transaction(() => catalog.holds.extendForRetry(backup.id, holdsExpireAt), true);
    catalog.backups.deleteRunning(backup.id);
    // As an abandoned session does (BackupSession.dropRows): what the client knew only through it goes with
    // it. Its entries went in steps, the candidates they made with them, so all of the client's rows are read.
    catalog.transaction(() => catalog.clientChunks.forgetAllUnreferenced(backup.clientId), true);
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'SQLITE_FULL') throw error;
    logger?.warn(`the store's disk is full: the unfinished backup ${backup.number} of ${backup.clientName} stays until `
      + 'the store opens with free space (it is not listed and holds nothing committed)');
  }
}

/**
 * A version-1 store wrote packs in place and recorded chunks before sealing; a pack it was still
 * writing when it stopped is trusted only chunk by chunk, after reading each back.
 */
async function sealVersionOnePacks(catalog: Catalog, backend: PackBackend, codec: ChunkCodec, framing: RecordFraming): Promise<number> {
  let droppedChunks = 0;
  for (const pack of catalog.packs.unsealed()) {
    let size = 0;
    for await (const stored of backend.listPacks()) if (stored.name === pack.name) size = stored.size;
    for (const location of catalog.chunks.ofPack(pack.id)) {
      const isIntact = await readChunk(backend, location, codec, undefined, framing).then(() => true, (error) => {
        if (error instanceof CorruptError) return false;
        throw error;
      });
      if (!isIntact) {
        catalog.transaction(() => catalog.checks.dropChunkRow(location.chunkId));
        droppedChunks++;
      }
    }
    catalog.packs.seal(pack.id, size);
  }
  return droppedChunks;
}

/** Objects with no catalog row come from a crash between storing a pack and recording it. */
async function orphanPacks(catalog: Catalog, backend: PackBackend): Promise<string[]> {
  const known = new Set(catalog.packs.all().map((pack) => pack.name));
  const orphans: string[] = [];
  for await (const stored of backend.listPacks()) {
    if (!known.has(stored.name) && !catalog.packs.isDoomed(stored.name)) orphans.push(stored.name);
  }
  return orphans;
}
