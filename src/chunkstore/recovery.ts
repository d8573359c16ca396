// Brings a store back to a consistent state on open, after any crash (borg: uncommitted work is
// discarded): running backups are dropped, staged packs removed, objects a crash left between their
// put and their catalog row deleted (any other object without a row is kept unless asked: see keptPacks),
// doomed packs deleted, packs the catalog names that are gone marked lost (and the lost records of those
// found shorter than recorded), and packs a version-1 store never sealed re-read and kept only if intact.
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { PackBackend, StoredObject } from './backend/pack-backend';
import type { Catalog } from './catalog/catalog';
import type { BackupRecord } from './catalog/records';
import type { PackRecord } from './catalog/packs-table';
import type { ChunkCodec } from './codec';
import type { RecordFraming } from './pack/record-framing';
import { readChunk } from './pack/pack-reader';
import { isCoverPackName } from './pack/pack-files';
import type { DoomedPacks } from './gc/doomed-packs';
import { describeKeptPacks, type KeptPacks, keptPacksOf, NO_KEPT_PACKS, sampleOf } from './kept-packs';
import { describeLongPack, describeShortPack, markShortPacksDamaged, resizedPacks } from './resized-packs';
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
  /**
   * Objects the catalog does not name and no crash of this catalog's servers left (no pack_intents row):
   * kept, as they may hold backups of a newer catalog (a store folder put back from an older copy, a
   * disk snapshot rolled back); deleted only by `cpsbackup-server gc --delete-unknown-packs`.
   */
  readonly keptUnknownPacks: number;
  /** Either of the two above (never both): their bytes and a few names, for the warning and `gc`. */
  readonly keptPacks: KeptPacks;
  /** Objects the catalog does not name (unannounced, or kept since `recover`) deleted because the open asked for it (deleteUnknownPacks). */
  readonly removedUnknownPacks: number;
  /**
   * Packs the catalog names that the store no longer holds: their chunks are marked damaged (and the
   * clients' own copies there dropped), so no backup deduplicates against them and the next ones that
   * hold their bytes store them again.
   */
  readonly missingPacks: number;
  /**
   * Packs the store holds shorter than the catalog recorded at their seal (a power loss, a full disk, a 0-byte
   * object): their chunks whose records run past the end, or do not read back within it, are marked damaged as a
   * missing pack's are, each pack named in a warning.
   */
  readonly shortPacks: number;
  /** Packs longer than recorded: warned of, not damage (what the catalog names in them is where it was). */
  readonly longPacks: number;
}


/**
 * Set by `recover` in the catalog it installs: objects it does not name are kept, even those its intents
 * name, until `gc --delete-unknown-packs` (deleteUnknownPacks). A recovered catalog may be behind the bucket (an older generation when the newest did
 * not open, packs missing, a drill beside a server that is not gone); what it does not name may then be the
 * only copy of committed backups, and deleting it cannot be undone.
 */
export const ORPHANS_HELD_KEY = 'orphan_packs_held_since_recover';

export interface RecoveryOptions {
  /** How long a failed backup's holds last from its failure (StoreOptions.resumeHoldSeconds): a retry's window. */
  readonly resumeHoldMs: number;
  readonly logger?: Logger;
  /**
   * `gc --delete-unknown-packs`: delete every object the catalog does not name, the unannounced ones and
   * those kept since `recover` too. Never without an operator's explicit word: they may be the only copy of
   * a newer catalog's backups.
   */
  readonly deleteUnknownPacks?: boolean;
  /**
   * The bucket holds a newer catalog snapshot than this catalog knows (snapshot/generation-fence.ts): this catalog
   * is a copy, and its announced packs may be ones the newer catalog went on to name (a copy taken mid-backup).
   * Also while `accept-catalog` runs: until its snapshot is stored the operator may still choose `recover`.
   */
  readonly isFenced?: boolean;
  /**
   * Where a short pack's records are read back to prove them: the bucket itself, never the read cache (which
   * may hold records the bucket lost). The backend recovery is given when absent.
   */
  readonly bucket?: PackBackend;
}

export async function recoverStore(catalog: Catalog, backend: PackBackend, codec: ChunkCodec, stagingDirectory: string,
  doomed: DoomedPacks, framing: RecordFraming, options: RecoveryOptions): Promise<RecoveryReport> {
  const { logger, deleteUnknownPacks = false, isFenced = false } = options;
  const running = catalog.backups.running();
  for (const backup of running) dropUnfinished(catalog, backup, Date.now() + options.resumeHoldMs, logger);
  for (const file of await readdir(stagingDirectory).catch(() => [] as string[])) await unlink(join(stagingDirectory, file)).catch(() => undefined);
  const droppedChunks = await sealVersionOnePacks(catalog, backend, codec, framing);
  await doomed.deleteReady();
  const { orphans, missing, short, long } = await comparePacks(catalog, backend);
  const missingPacks = markPacksLost(catalog, missing);
  if (missingPacks > 0) {
    logger?.warn(`${missingPacks} packs the catalog names are not in ${backend.location} (${sampleOf(missing.map((pack) => pack.name))}): `
      + 'their chunks are marked damaged, the next backups holding their bytes store them again; `cpsbackup-server check` names the files they cost');
  }
  // Found at every start until its chunks are healed and compaction rewrites it: each start says so again.
  const shortPacks = await markShortPacksDamaged(catalog, short, framing.overhead, { backend: options.bucket ?? backend, codec, framing });
  for (const damage of shortPacks) logger?.warn(describeShortPack(damage, backend.location));
  for (const resized of long) logger?.warn(describeLongPack(resized, backend.location));
  let removedCoverPacks = 0;
  // What a cover write left (a crash between its put and its delete) holds nothing anyone needs, whatever catalog is installed.
  for (const { name } of orphans.filter((orphan) => isCoverPackName(orphan.name))) {
    await backend.deletePack(name);
    removedCoverPacks++;
  }
  const orphanedPacks = orphans.filter((orphan) => !isCoverPackName(orphan.name));
  // A recovered catalog's intents are its snapshot's: their objects may have rows in the newer catalog it lacks.
  const isSinceRecover = catalog.meta.get(ORPHANS_HELD_KEY) === '1';
  // So are a fenced catalog's: a copy taken while a pack was being put holds its intent, the newer catalog its row.
  const intents = isSinceRecover || isFenced ? new Set<string>() : catalog.packs.intents();
  // A crash's leftover: put (or about to be) with no row yet. Anything else a newer catalog may have written,
  // however old: a catalog copied before this version recorded intents has none, and no time tells its
  // leftovers from a newer catalog's packs (an older version's crash leftovers are kept, named, until
  // `gc --delete-unknown-packs`).
  const leftovers = orphanedPacks.filter((orphan) => intents.has(orphan.name));
  const unknown = orphanedPacks.filter((orphan) => !intents.has(orphan.name));
  let removedOrphanPacks = 0;
  for (const { name } of leftovers) {
    await backend.deletePack(name);
    removedOrphanPacks++;
  }
  let removedUnknownPacks = 0;
  if (deleteUnknownPacks) {
    for (const { name } of unknown) {
      await backend.deletePack(name);
      removedUnknownPacks++;
    }
  }
  if (!isFenced && (!isSinceRecover || deleteUnknownPacks)) {
    catalog.transaction(() => {
      catalog.packs.clearIntents();
      if (isSinceRecover) catalog.meta.set(ORPHANS_HELD_KEY, '0');
    }, true);
  }
  const keptPacks = deleteUnknownPacks ? NO_KEPT_PACKS : keptPacksOf(unknown, isSinceRecover);
  if (keptPacks.count > 0) logger?.warn(describeKeptPacks(keptPacks, backend.location));
  return {
    droppedBackups: running.length, droppedChunks, removedOrphanPacks, removedCoverPacks, removedUnknownPacks, missingPacks, keptPacks,
    shortPacks: shortPacks.length, longPacks: long.length,
    keptOrphanPacks: isSinceRecover ? keptPacks.count : 0, keptUnknownPacks: isSinceRecover ? 0 : keptPacks.count,
  };
}

/**
 * Marks the chunks of packs that are gone damaged, as check would, and drops the clients' own copies there:
 * left sound, every later backup holding any of their bytes deduplicated against chunks that are gone, was
 * acknowledged, and did not restore. Returns how many packs.
 */
export function markPacksLost(catalog: Catalog, packs: readonly PackRecord[]): number {
  if (packs.length === 0) return 0;
  catalog.transaction(() => {
    for (const pack of packs) {
      catalog.chunks.markDamaged(catalog.chunks.ofPack(pack.id));
      for (const own of catalog.clientChunks.ownCopiesOf(pack.id)) catalog.clientChunks.dropOwnCopy(own);
    }
  }, true);
  return packs.length;
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

/**
 * The store's objects against the catalog's packs, both ways: objects no row names (a crash between a put
 * and its row, or a newer catalog's), packs whose object is gone, and packs whose object is not the size
 * recorded (shorter or longer). Doomed packs are none of these.
 */
async function comparePacks(catalog: Catalog, backend: PackBackend): Promise<{ orphans: StoredObject[]; missing: PackRecord[] } & ReturnType<typeof resizedPacks>> {
  const packs = catalog.packs.all();
  const known = new Set(packs.map((pack) => pack.name));
  const orphans: StoredObject[] = [];
  const stored = new Map<string, number>();
  for await (const object of backend.listPacks()) {
    stored.set(object.name, object.size);
    if (!known.has(object.name) && !catalog.packs.isDoomed(object.name)) orphans.push(object);
  }
  return { orphans, missing: packs.filter((pack) => !stored.has(pack.name)), ...resizedPacks(packs, stored) };
}
