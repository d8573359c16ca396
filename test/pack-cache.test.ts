// The local read cache's contract (s3_cache_size), in process on a real folder: a range is served back
// whole or in part, the least recently used goes first and the folder never holds more than the bound,
// a damaged or truncated file is never served (it is removed and counted), and a reopened cache keeps
// the files of packs the catalog still has and drops the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PackCache } from '../src/chunkstore/cache/pack-cache';
import { flipByte } from './support/fault-tools';
import { testBytes } from './support/test-bytes';

const KIB = 1024;

async function cacheFolder(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'pack-cache-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  return join(root, 'cache');
}

async function folderBytes(folder: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(folder)) total += (await stat(join(folder, name))).size;
  return total;
}

test('a cached range serves itself and any range inside it; other ranges and packs miss', async (t) => {
  const folder = await cacheFolder(t);
  const cache = await PackCache.open(folder, 1024 * KIB, () => true);
  const range = testBytes('range', 100 * KIB);
  assert.equal(await cache.get('aa', 4096, range.length), undefined);
  await cache.put('aa', 4096, range);
  assert.deepEqual(await cache.get('aa', 4096, range.length), range);
  assert.deepEqual(await cache.get('aa', 4096 + 1000, 5000), range.subarray(1000, 6000));
  assert.equal(await cache.get('aa', 0, 5000), undefined, 'starts before the cached range');
  assert.equal(await cache.get('aa', 4096 + 99 * KIB, 2 * KIB), undefined, 'ends after it');
  assert.equal(await cache.get('bb', 4096, 5000), undefined, 'another pack');
  const figures = cache.figures;
  assert.equal(figures.hits, 2);
  assert.equal(figures.misses, 4);
  assert.equal(figures.hitBytes, range.length + 5000);
  assert.equal(figures.files, 1);
  assert.equal(figures.bytes, range.length + 32);
});

test('the least recently used range goes first, and the folder never holds more than the bound', async (t) => {
  const folder = await cacheFolder(t);
  const bound = 250 * KIB;
  const cache = await PackCache.open(folder, bound, () => true);
  const ranges = ['p1', 'p2', 'p3'].map((seed) => testBytes(seed, 100 * KIB));
  await cache.put('p1', 0, ranges[0]);
  await cache.put('p2', 0, ranges[1]);
  assert.ok(await cache.get('p1', 0, 10)); // p1 is now the most recently used
  await cache.put('p3', 0, ranges[2]);
  assert.equal(cache.figures.evictions, 1);
  assert.equal(await cache.get('p2', 0, 10), undefined, 'the least recently used went');
  assert.ok(await cache.get('p1', 0, 10));
  assert.ok(await cache.get('p3', 0, 10));
  assert.ok(await folderBytes(folder) <= bound);
  // Puts at once: the room each one takes is never counted twice.
  await Promise.all(Array.from({ length: 12 }, (_, index) => cache.put(`q${index}`, 0, testBytes(`q${index}`, 60 * KIB))));
  assert.ok(cache.figures.bytes <= bound, `${cache.figures.bytes} bytes counted`);
  assert.ok(await folderBytes(folder) <= bound);
  await cache.put('huge', 0, testBytes('huge', 300 * KIB));
  assert.equal(await cache.get('huge', 0, 10), undefined, 'a range bigger than the whole cache is not kept');
});

test('a damaged or cut cache file is never served: removed, counted, and the caller reads the bucket', async (t) => {
  const folder = await cacheFolder(t);
  const cache = await PackCache.open(folder, 1024 * KIB, () => true);
  const range = testBytes('damaged', 64 * KIB);
  await cache.put('cc', 0, range);
  await cache.put('dd', 0, range);
  await flipByte(join(folder, `cc.0.${range.length}`), 32 + 1000);
  assert.equal(await cache.get('cc', 0, range.length), undefined);
  await truncate(join(folder, `dd.0.${range.length}`), 1000);
  assert.equal(await cache.get('dd', 10, 100), undefined);
  assert.equal(cache.figures.discarded, 2);
  assert.equal(cache.figures.files, 0);
  assert.deepEqual(await readdir(folder), []);
  await cache.put('cc', 0, range);
  assert.deepEqual(await cache.get('cc', 0, range.length), range, 'kept again once read again');
});

test('reopened: files of known packs stay (a restart keeps the cache), the rest and half-written files go', async (t) => {
  const folder = await cacheFolder(t);
  const cache = await PackCache.open(folder, 1024 * KIB, () => true);
  await cache.put('kept', 0, testBytes('kept', 10 * KIB));
  await cache.put('gone', 0, testBytes('gone', 10 * KIB));
  await cache.put('dropped', 0, testBytes('dropped', 10 * KIB));
  await cache.dropPack('dropped');
  await writeFile(join(folder, '.kept.0.99.abcd'), 'half written');
  const reopened = await PackCache.open(folder, 1024 * KIB, (name) => name === 'kept');
  assert.deepEqual(await reopened.get('kept', 0, 10 * KIB), testBytes('kept', 10 * KIB));
  assert.equal(await reopened.get('gone', 0, 10), undefined);
  assert.deepEqual(await readdir(folder), [`kept.0.${10 * KIB}`]);
  // A smaller bound at the next start evicts down to it.
  const smaller = await PackCache.open(folder, 5 * KIB, () => true);
  assert.equal(smaller.figures.files, 0);
  assert.deepEqual(await readdir(folder), []);
});

// Regression: a put reserved its entry, gc dropped the pack (the entry and its bytes went), and the put
// then renamed its file into place anyway: a file on disk counted nowhere until a restart, beyond the bound.
test('a range whose pack is dropped while its file is being written leaves no file behind', async (t) => {
  const folder = await cacheFolder(t);
  const cache = await PackCache.open(folder, 1024 * KIB, () => true);
  const range = testBytes('dropped while written', 512 * KIB);
  const writing = cache.put('gone', 0, range);
  // The put has taken its room and is writing the file (disk I/O, which no microtask overtakes): gc drops the pack now.
  for (let turn = 0; cache.figures.files === 0; turn++) {
    assert.ok(turn < 1000, 'the put never reserved its room');
    await Promise.resolve();
  }
  await cache.dropPack('gone');
  await writing;
  assert.deepEqual(await readdir(folder), [], 'no file is left that nothing counts');
  assert.equal(cache.figures.bytes, 0);
  assert.equal(await cache.get('gone', 0, 10), undefined);
  // The cache still works for the range once it is read again.
  await cache.put('gone', 0, range);
  assert.deepEqual(await cache.get('gone', 0, range.length), range);
  assert.equal(await folderBytes(folder), cache.figures.bytes);
});
