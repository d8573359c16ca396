// ChunkRunReader: chunks read back in runs give the stored bytes, in any order asked and with
// repeats; a truncated or missing pack fails only the chunks it holds, with CorruptError naming it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, truncate, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Catalog } from '../src/chunkstore/catalog/catalog';
import type { ChunkLocation } from '../src/chunkstore/catalog/records';
import { ChunkCodec, sha256 } from '../src/chunkstore/codec';
import { PackWriter } from '../src/chunkstore/pack/pack-writer';
import { PackHandles } from '../src/chunkstore/pack/pack-handles';
import { packPath } from '../src/chunkstore/pack/pack-files';
import { ChunkRunReader } from '../src/chunkstore/pack/chunk-run-reader';
import { CorruptError } from '../src/common/errors';

interface Fixture {
  readonly directory: string;
  readonly catalog: Catalog;
  readonly codec: ChunkCodec;
  readonly raws: Buffer[];
  readonly locations: ChunkLocation[];
}

/** Six chunks in two packs (a small pack target size splits them). */
async function withChunks(use: (fixture: Fixture) => Promise<void>): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'cpsbackup-runs-'));
  const catalog = new Catalog(join(directory, 'catalog.db'));
  const codec = new ChunkCodec(3);
  try {
    const writer = new PackWriter(directory, catalog, 60_000);
    const raws = [0, 1, 2, 3, 4, 5].map((index) => randomBytes(20_000 + index * 1000)); // incompressible: fills the packs
    const rows = [];
    for (const raw of raws) {
      const encoded = codec.encode(raw);
      rows.push(await writer.append(sha256(raw), encoded.codec, raw.length, encoded.payload));
    }
    await writer.close();
    catalog.insertChunks(rows);
    const locations = raws.map((raw) => catalog.findChunk(sha256(raw))!);
    assert.ok(new Set(locations.map((location) => location.packName)).size >= 2, 'fixture: chunks span two packs');
    await use({ directory, catalog, codec, raws, locations });
  } finally {
    catalog.close();
    await rm(directory, { recursive: true, force: true });
  }
}

test('chunks read in runs equal what was stored, with repeats and out of pack order', async () => {
  await withChunks(async ({ directory, codec, raws, locations }) => {
    const order = [0, 1, 2, 5, 3, 3, 4, 0];
    const handles = new PackHandles();
    try {
      const reader = new ChunkRunReader(directory, order.map((index) => locations[index]), codec, handles);
      for (let position = 0; position < order.length; position++) {
        assert.deepEqual(await reader.chunkAt(position), raws[order[position]], `position ${position}`);
      }
    } finally {
      await handles.close();
    }
  });
});

test('a truncated pack fails only its cut chunks; a missing pack names itself', async () => {
  await withChunks(async ({ directory, codec, locations }) => {
    const firstPack = locations[0].packName;
    const inFirst = locations.filter((location) => location.packName === firstPack);
    const last = inFirst[inFirst.length - 1];
    await truncate(packPath(directory, firstPack), last.offset + 10);
    const handles = new PackHandles();
    try {
      const reader = new ChunkRunReader(directory, locations, codec, handles);
      for (let index = 0; index < inFirst.length - 1; index++) await reader.chunkAt(index);
      await assert.rejects(reader.chunkAt(inFirst.length - 1), (error: unknown) =>
        error instanceof CorruptError && error.message.includes(`pack ${firstPack}`) && /truncated/.test(error.message));
      await reader.chunkAt(inFirst.length); // the next pack is intact
    } finally {
      await handles.close();
    }
    const secondPack = locations[locations.length - 1].packName;
    await unlink(packPath(directory, secondPack));
    const fresh = new PackHandles();
    try {
      const reader = new ChunkRunReader(directory, [locations[locations.length - 1]], codec, fresh);
      await assert.rejects(reader.chunkAt(0), (error: unknown) =>
        error instanceof CorruptError && error.message.includes(`pack ${secondPack}`) && /pack file is missing/.test(error.message));
    } finally {
      await fresh.close();
    }
  });
});
