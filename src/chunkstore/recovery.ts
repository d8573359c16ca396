// Brings a store back to a consistent state on open, after any crash (borg: uncommitted work is
// discarded): running backups are dropped, staged packs removed, objects without a catalog row
// deleted, doomed packs deleted, and packs a version-1 store never sealed re-read and kept only if intact.
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { PackBackend } from './backend/pack-backend';
import type { Catalog } from './catalog/catalog';
import type { BackupRecord } from './catalog/records';
import type { ChunkCodec } from './codec';
import type { RecordFraming } from './pack/record-framing';
import { readChunk } from './pack/pack-reader';
import type { DoomedPacks } from './gc/doomed-packs';
import { CorruptError } from '../common/errors';
import type { Logger } from '../common/logger';

export interface RecoveryReport {
  readonly droppedBackups: number;
  readonly droppedChunks: number;
  readonly removedOrphanPacks: number;
}

export async function recoverStore(catalog: Catalog, backend: PackBackend, codec: ChunkCodec, stagingDirectory: string,
  doomed: DoomedPacks, framing: RecordFraming, logger?: Logger): Promise<RecoveryReport> {
  const running = catalog.backups.running();
  for (const backup of running) dropUnfinished(catalog, backup, logger);
  for (const file of await readdir(stagingDirectory).catch(() => [] as string[])) await unlink(join(stagingDirectory, file)).catch(() => undefined);
  const droppedChunks = await sealVersionOnePacks(catalog, backend, codec, framing);
  await doomed.deleteReady();
  const removedOrphanPacks = await removeOrphanPacks(catalog, backend);
  return { droppedBackups: running.length, droppedChunks, removedOrphanPacks };
}

/**
 * A running row is never listed nor restored, and its chunks stay held, so one that a full disk
 * leaves no room to drop can wait for the next open: the store opens, and check, listings and
 * restores of every committed backup work on the full disk.
 */
function dropUnfinished(catalog: Catalog, backup: BackupRecord, logger: Logger | undefined): void {
  try {
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
async function removeOrphanPacks(catalog: Catalog, backend: PackBackend): Promise<number> {
  const known = new Set(catalog.packs.all().map((pack) => pack.name));
  let removed = 0;
  for await (const stored of backend.listPacks()) {
    if (known.has(stored.name) || catalog.packs.isDoomed(stored.name)) continue;
    await backend.deletePack(stored.name);
    removed++;
  }
  return removed;
}
