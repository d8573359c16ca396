// `recover`: rebuilds a lost server's catalog from its bucket. The newest catalog snapshot is fetched,
// opened with the key (wrong key: refused before anything is written), checked against the bucket's
// packs, and installed as the store's catalog; a generation that does not open gives way to the one before.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { PackBackend } from '../backend/pack-backend';
import { Catalog } from '../catalog/catalog';
import { NewerCatalogError } from '../catalog/database';
import { openSealedFile } from '../crypto/sealed-file';
import { SEALED_FRAMING_OVERHEAD } from '../crypto/sealed-framing';
import { assertStoreKey, WrongKeyError, type StoreKey } from '../crypto/store-key';
import { readIdentity } from '../store-identity';
import { markPacksLost, ORPHANS_HELD_KEY } from '../recovery';
import { describeShortPack, markShortPacksDamaged, resizedPacks } from '../resized-packs';
import { generationOf, snapshotName } from './snapshot-names';
import { isCoverPackName } from '../pack/pack-files';
import { recordKnownGeneration } from './generation-fence';
import { BackupError, ConfigError, CorruptError, NotFoundError, errorMessage } from '../../common/errors';

export interface RecoveredCatalog {
  readonly generation: number;
  readonly clients: number;
  readonly backups: number;
  readonly packs: number;
  /**
   * Packs the catalog references that the bucket no longer holds: their chunks are lost, and marked
   * damaged in the installed catalog (the clients' own copies there dropped), so the next backups that
   * hold their bytes store them again.
   */
  readonly missingPacks: readonly string[];
  /**
   * Packs the bucket holds shorter than the catalog recorded, one line each naming the pack: their chunks whose
   * records run past the end are marked damaged (the next start also reads back those within it).
   */
  readonly shortPacks: readonly string[];
  /** Newer generations that did not open, with why. */
  readonly skipped: readonly string[];
  /** The bucket's newest generation: above `generation` when newer ones were skipped. */
  readonly newestGeneration: number;
  /**
   * Packs in the bucket this catalog does not name (cover writes aside): what a newer catalog, or backups
   * committed after this snapshot, stored. Kept (ORPHANS_HELD_KEY); the recovered catalog lacks what they hold.
   */
  readonly unknownPacks: { readonly count: number; readonly bytes: number; readonly names: readonly string[] };
}

export interface RecoverOptions {
  /**
   * False: when a newer snapshot did not open, install nothing (BackupError 'IO'): a snapshot that failed to read
   * once may open at the next try, and the server an older catalog starts prunes the newer generations. The
   * operator says so (recover --accept-older-snapshot). Default true (the function installs the newest that opens).
   */
  readonly installsOlder?: boolean;
}

export async function recoverCatalog(directory: string, backend: PackBackend, key: StoreKey, options: RecoverOptions = {}): Promise<RecoveredCatalog> {
  const catalogFile = join(directory, 'catalog.db');
  if (existsSync(catalogFile)) {
    throw new ConfigError(catalogFile, undefined, 'a catalog is already here; recover only rebuilds a store folder that has none (move it away first)');
  }
  const staging = join(directory, 'staging');
  await mkdir(staging, { recursive: true, mode: 0o700 });
  const identity = await readIdentity(backend, staging);
  if (identity === undefined) throw new NotFoundError(`${backend.location} holds no cpsbackup store: nothing to recover (check s3_bucket and s3_prefix)`);
  if (identity.keyId === undefined) throw new CorruptError(`${backend.location}: the store identity names no key; only an encrypted store has snapshots`);
  assertStoreKey(key, identity.keyId, `the store in ${backend.location}`);
  const generations: number[] = [];
  for await (const blob of backend.listBlobs()) {
    const generation = generationOf(blob.name);
    if (generation !== undefined) generations.push(generation);
  }
  if (generations.length === 0) throw new NotFoundError(`${backend.location} holds no catalog snapshot: nothing to recover`);
  generations.sort((a, b) => b - a);
  const skipped: string[] = [];
  for (const generation of generations) {
    const name = snapshotName(generation);
    const base = join(staging, `recover-${randomBytes(6).toString('hex')}`);
    try {
      await backend.getBlob(name, `${base}.sealed`);
      await openSealedFile(key, { storeId: identity.storeId, name }, `${base}.sealed`, `${base}.db`);
      if (skipped.length > 0 && options.installsOlder === false) {
        throw new BackupError('IO', `the newest catalog snapshot in ${backend.location} did not open (${skipped.join('; ')}): nothing installed. `
          + `Generation ${generation} opens but lacks what the newer ones hold; run \`cpsbackup-server recover --accept-older-snapshot\` to install it anyway`);
      }
      const figures = await inspect(`${base}.db`, backend, identity.storeId, generations[0]);
      await rename(`${base}.db`, catalogFile);
      return { generation, ...figures, skipped, newestGeneration: generations[0] };
    } catch (error) {
      // Not damage: this snapshot and every one after it hold backups an older one lacks (red team redupgrade).
      if (error instanceof NewerCatalogError) {
        throw new NewerCatalogError(`${name} in ${backend.location} was written by a newer cpsbackup (${errorMessage(error)}): `
          + 'nothing installed; recover with that version of cpsbackup, or a newer one');
      }
      // The key was proven above: a snapshot that does not open is damaged or cut, so an older one is tried.
      if (error instanceof WrongKeyError || !(error instanceof CorruptError || error instanceof NotFoundError)) throw error;
      skipped.push(`${name}: ${errorMessage(error)}`);
    } finally {
      await Promise.all(['.sealed', '.db', '.db-wal', '.db-shm'].map((suffix) => rm(`${base}${suffix}`, { force: true })));
    }
  }
  throw new CorruptError(`no catalog snapshot in ${backend.location} could be opened: ${skipped.join('; ')}`);
}

async function inspect(file: string, backend: PackBackend, storeId: string, newestGeneration: number)
  : Promise<Omit<RecoveredCatalog, 'generation' | 'skipped' | 'newestGeneration'>> {
  const catalog = new Catalog(file, SEALED_FRAMING_OVERHEAD);
  try {
    const recordedId = catalog.meta.get('store_id');
    if (recordedId !== storeId) throw new CorruptError(`the snapshot belongs to store ${recordedId ?? '(none)'}, not to ${storeId}`);
    // The packs it does not name are kept until the operator runs gc: they may be the only copy of backups it lacks.
    catalog.meta.set(ORPHANS_HELD_KEY, '1');
    // The operator chose this catalog: newer generations that did not open fence none of its snapshots.
    recordKnownGeneration(catalog, newestGeneration);
    const stored = new Map<string, number>();
    for await (const pack of backend.listPacks()) stored.set(pack.name, pack.size);
    const packs = catalog.packs.all();
    const missing = packs.filter((pack) => !stored.has(pack.name));
    markPacksLost(catalog, missing);
    // A short pack lost what lies past its end as a missing one lost all; the server's start reads back the rest.
    const short = await markShortPacksDamaged(catalog, resizedPacks(packs, stored).short, SEALED_FRAMING_OVERHEAD);
    const named = new Set(packs.map((pack) => pack.name));
    // A cover write holds no backup's data (pack/cover-writer.ts): a crash's leftover, not something this catalog lacks.
    const unknown = [...stored].filter(([name]) => !named.has(name) && !isCoverPackName(name)).sort(([a], [b]) => a.localeCompare(b));
    return {
      unknownPacks: { count: unknown.length, bytes: unknown.reduce((sum, [, size]) => sum + size, 0), names: unknown.slice(0, 5).map(([name]) => name) },
      clients: catalog.clients.allNames().length,
      backups: catalog.backups.totals().backups,
      packs: packs.length,
      missingPacks: missing.map((pack) => pack.name).sort(),
      shortPacks: short.map((damage) => describeShortPack(damage, backend.location)),
    };
  } finally {
    catalog.close();
  }
}
