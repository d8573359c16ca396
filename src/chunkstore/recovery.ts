// Brings a store back to a consistent state on open, after any crash (borg: uncommitted work is discarded).
// Running backups are dropped; chunks in packs that were never sealed are re-read and kept only if intact.
import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Catalog } from './catalog/catalog';
import { packPath } from './pack/pack-files';
import { readChunk } from './pack/pack-reader';
import type { ChunkCodec } from './codec';
import { CorruptError } from '../common/errors';

export interface RecoveryReport {
  readonly droppedBackups: number;
  readonly droppedChunks: number;
  readonly removedOrphanPacks: number;
}

export async function recoverStore(directory: string, catalog: Catalog, codec: ChunkCodec): Promise<RecoveryReport> {
  const running = catalog.runningBackups();
  for (const backup of running) catalog.deleteBackup(backup.id);

  const droppedChunks = await sealAbandonedPacks(directory, catalog, codec);
  const removedOrphanPacks = await removeOrphanPackFiles(directory, catalog);
  return { droppedBackups: running.length, droppedChunks, removedOrphanPacks };
}

/**
 * Seals packs no writer will finish: after a crash, or (called by GC, which runs alone) after a
 * session failed to seal them on a full disk. Every chunk in them is re-read and kept only if
 * intact. Returns the number of chunk rows dropped.
 */
export async function sealAbandonedPacks(directory: string, catalog: Catalog, codec: ChunkCodec): Promise<number> {
  let droppedChunks = 0;
  const unsealed = catalog.sqlite.prepare(`SELECT id, name FROM packs WHERE is_sealed = 0`).all() as { id: number; name: string }[];
  const deleteChunk = catalog.sqlite.prepare(`DELETE FROM chunks WHERE id = ?`);
  for (const pack of unsealed) {
    const size = await stat(packPath(directory, pack.name)).then((info) => info.size, () => 0);
    for (const location of catalog.chunksOfPack(pack.id)) {
      // An unsealed pack was being written when its writer stopped: trust nothing in it unread.
      const isIntact = await readChunk(directory, location, codec).then(() => true, (error) => {
        if (error instanceof CorruptError) return false;
        throw error;
      });
      if (!isIntact) {
        deleteChunk.run(location.chunkId);
        droppedChunks++;
      }
    }
    catalog.sealPack(pack.id, size);
  }
  return droppedChunks;
}

/** Pack files with no catalog row come from a crash between creating the file and recording it. */
async function removeOrphanPackFiles(directory: string, catalog: Catalog): Promise<number> {
  const known = new Set((catalog.sqlite.prepare(`SELECT name FROM packs`).pluck().all() as string[]));
  let removed = 0;
  const packsRoot = join(directory, 'packs');
  const folders = await readdir(packsRoot).catch(() => [] as string[]);
  for (const folder of folders) {
    for (const file of await readdir(join(packsRoot, folder)).catch(() => [] as string[])) {
      const name = file.replace(/\.pack$/, '');
      if (!file.endsWith('.pack') || known.has(name)) continue;
      await unlink(join(packsRoot, folder, file));
      removed++;
    }
  }
  return removed;
}
