// Garbage collection: drops contents and chunks no backup references, then compacts packs.
// Callers hold the store's exclusive lock, so no backup or restore runs meanwhile (see store-lock.ts).
import { unlink } from 'node:fs/promises';
import type { Catalog } from './catalog/catalog';
import { PackWriter } from './pack/pack-writer';
import { packPath } from './pack/pack-files';
import { RECORD_HEADER_SIZE, encodeRecordHeader } from './pack/pack-format';
import { readChunk } from './pack/pack-reader';
import { sealAbandonedPacks } from './recovery';
import type { ChunkCodec } from './codec';
import type { Codec } from './pack/pack-format';

export interface GarbageReport {
  readonly deletedContents: number;
  readonly deletedChunks: number;
  readonly deletedPacks: number;
  readonly rewrittenPacks: number;
  readonly freedBytes: number;
}

/** A pack whose live share is below this is rewritten; an empty one is deleted outright. */
const COMPACT_BELOW_LIVE_SHARE = 0.5;

export async function collectGarbage(directory: string, catalog: Catalog, codec: ChunkCodec): Promise<GarbageReport> {
  const database = catalog.sqlite;
  // Running alone, so an unsealed pack has no writer left (a session could not seal it on a full disk).
  await sealAbandonedPacks(directory, catalog, codec);
  const { deletedContents, deletedChunks } = catalog.transaction(() => {
    const contents = database.prepare(
      `DELETE FROM contents WHERE id NOT IN (SELECT content_id FROM entries WHERE content_id IS NOT NULL)`).run().changes;
    database.prepare(`DELETE FROM content_chunks WHERE content_id NOT IN (SELECT id FROM contents)`).run();
    const chunks = database.prepare(`DELETE FROM chunks WHERE id NOT IN (SELECT chunk_id FROM content_chunks)`).run().changes;
    return { deletedContents: contents, deletedChunks: chunks };
  }, true);

  const packs = database.prepare(
    `SELECT p.id, p.name, p.size, COALESCE(SUM(${RECORD_HEADER_SIZE} + ch.stored_size), 0) AS live
     FROM packs p LEFT JOIN chunks ch ON ch.pack_id = p.id WHERE p.is_sealed = 1 GROUP BY p.id`).all() as
    { id: number; name: string; size: number; live: number }[];
  let deletedPacks = 0;
  let rewrittenPacks = 0;
  let freedBytes = 0;
  const deletePackRow = database.prepare(`DELETE FROM packs WHERE id = ?`);
  const moveChunk = database.prepare(`UPDATE chunks SET pack_id = ?, offset = ?, stored_size = ? WHERE id = ?`);

  for (const pack of packs) {
    if (pack.live === 0) {
      // Row first, file second: a crash in between leaves an orphan file that recovery removes.
      catalog.transaction(() => deletePackRow.run(pack.id), true);
      await unlink(packPath(directory, pack.name)).catch(ignoreMissing);
      deletedPacks++;
      freedBytes += pack.size;
      continue;
    }
    if (pack.live / Math.max(pack.size, 1) >= COMPACT_BELOW_LIVE_SHARE) continue;
    const writer = new PackWriter(directory, catalog);
    const moves: { chunkId: number; packId: number; offset: number; storedSize: number }[] = [];
    try {
      for (const location of catalog.chunksOfPack(pack.id)) {
        // Re-verify while copying, so compaction never propagates a damaged chunk silently.
        const raw = await readChunk(directory, location, codec);
        const encoded = codec.encode(raw);
        const header = encodeRecordHeader({ codec: encoded.codec as Codec, rawSize: raw.length, storedSize: encoded.payload.length, hash: location.hash });
        const { packId, offset } = await writer.appendRecord(header, encoded.payload);
        moves.push({ chunkId: location.chunkId, packId, offset, storedSize: encoded.payload.length });
      }
      await writer.close();
    } catch (error) {
      await writer.discard();
      throw error;
    }
    catalog.transaction(() => {
      for (const move of moves) moveChunk.run(move.packId, move.offset, move.storedSize, move.chunkId);
      deletePackRow.run(pack.id);
    }, true);
    await unlink(packPath(directory, pack.name)).catch(ignoreMissing);
    rewrittenPacks++;
    freedBytes += pack.size - pack.live;
  }
  return { deletedContents, deletedChunks, deletedPacks, rewrittenPacks, freedBytes };
}

function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}
