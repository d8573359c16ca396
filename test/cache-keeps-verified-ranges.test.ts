// The read cache (s3_cache_size) keeps only ranges whose records opened, in process on a folder that plays the
// bucket (the cache is in front of any PackBackend): a range read while its object was damaged in the bucket is
// not kept, so the restore after the object is put right succeeds without removing directory/cache; and a cache
// file whose records do not open, even with a digest that matches (kept so by an older version), is dropped and
// read again from the bucket instead of failing every restore.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChunkStore, type BackupRecord } from '../src/chunkstore/store';
import { LocalBackend } from '../src/chunkstore/backend/local-backend';
import { StoreKey } from '../src/chunkstore/crypto/store-key';
import { backupFiles, bytesOf, readBackup, SMALL_CHUNKS } from './support/store-fixture';
import { FlakyBucket } from './support/flaky-bucket';
import { flipByte } from './support/fault-tools';

const MEBIBYTE = 1024 * 1024;

/** A store on a folder playing the bucket; `open` closes the one open before, and the test's end closes the last. */
async function setUp(t: { after(fn: () => Promise<void>): void }) {
  const root = await mkdtemp(join(tmpdir(), 'cpsbackup-cache-verified-'));
  const folder = new LocalBackend(join(root, 'bucket'));
  let current: ChunkStore | undefined;
  const close = async (): Promise<void> => {
    await current?.close();
    current = undefined;
  };
  t.after(async () => {
    await close();
    await folder.close();
    await rm(root, { recursive: true, force: true });
  });
  const key = new StoreKey(randomBytes(32), 'key file test.key');
  const directory = join(root, 'server');
  const open = async (): Promise<ChunkStore> => {
    // A restart waits for the cache's background writes: what it holds afterwards is all the reads before left.
    await close();
    // kind 's3': big contents are read with read-ahead, as from a bucket.
    current = await ChunkStore.open(directory, {
      chunker: SMALL_CHUNKS, compressionLevel: 3, encoderThreads: 0, backend: new FlakyBucket(folder), encryptionKey: key,
      snapshotIntervalSeconds: 3600, cacheBytes: 256 * MEBIBYTE,
    });
    return current;
  };
  return { cacheFolder: join(directory, 'cache'), packsFolder: join(root, 'bucket', 'packs'), open };
}

/** The bucket's one pack file. */
async function onlyPack(packsFolder: string): Promise<string> {
  const files: string[] = [];
  for (const prefix of await readdir(packsFolder)) for (const name of await readdir(join(packsFolder, prefix))) files.push(join(packsFolder, prefix, name));
  assert.equal(files.length, 1, `one pack in the bucket: ${files.join(', ')}`);
  return files[0];
}

/** The files of the backup that do not read back: each read on its own, as a restore goes on past a damaged file. */
async function unreadableFiles(store: ChunkStore, backup: BackupRecord): Promise<string[]> {
  const failed: string[] = [];
  const reader = store.openReader(backup);
  try {
    for await (const page of reader.pages()) {
      for (const item of page) await item.content?.readWhole().catch(() => failed.push(item.entry.path.toString()));
    }
  } finally {
    reader.close();
  }
  return failed;
}

/** Small files (read in runs) and one content past 16 MiB (read chunk by chunk, with read-ahead). */
async function testFiles(): Promise<Record<string, Buffer>> {
  const files: Record<string, Buffer> = {};
  for (let index = 0; index < 20; index++) files[`small-${String(index).padStart(2, '0')}.bin`] = await bytesOf(`verified-small-${index}`, 6000 + index * 131);
  files['z-big.bin'] = await bytesOf('verified-big', 17 * MEBIBYTE);
  return files;
}

// Regression: a range read while its pack was damaged in the bucket was kept before its records were verified;
// every later restore failed on it (authentication error) after the pack was put right, until directory/cache was removed.
test('a range read while its pack is damaged is not kept: once the pack is put right, the restore succeeds with the cache in place', async (t) => {
  const { cacheFolder, packsFolder, open } = await setUp(t);
  let store = await open();
  const files = await testFiles();
  const backup = await backupFiles(store, 'node1', files);
  const pack = await onlyPack(packsFolder);
  const { size } = await stat(pack);
  // One byte among the small files' records (a run) and one among the big file's (read-ahead).
  const damaged = [4096, size - 100_000];
  for (const offset of damaged) await flipByte(pack, offset);

  const failed = await unreadableFiles(store, backup);
  assert.ok(failed.includes('z-big.bin') && failed.some((name) => name.startsWith('small-')), `the damage fails both read paths: ${failed.join(', ')}`);
  store = await open(); // a restart: the cache now holds what the damaged read left

  for (const offset of damaged) await flipByte(pack, offset); // put right in the bucket
  const keptBefore = await readdir(cacheFolder);
  const restored = await readBackup(store, backup);
  for (const [name, bytes] of Object.entries(files)) assert.ok(restored.get(name)?.equals(bytes), `${name} restored byte for byte`);
  assert.equal(store.cacheStatus?.discarded, 0, 'no kept range had to be dropped: none was kept damaged');
  assert.ok(store.cacheStatus.hits > 0, `the ranges that opened were kept and served (${keptBefore.length} files)`);
});

// Regression: a cache file whose digest matches bytes whose records do not open (kept so before ranges were verified)
// was served to every restore; now it is dropped and the range read again from the bucket.
test('a cache file whose records do not open is dropped and read again from the bucket, whether its digest matches or not', async (t) => {
  const { cacheFolder, open } = await setUp(t);
  let store = await open();
  const files = await testFiles();
  const backup = await backupFiles(store, 'node1', files);
  await readBackup(store, backup);
  store = await open(); // the cache's writes done
  const cacheFiles = (await readdir(cacheFolder)).sort();
  assert.ok(cacheFiles.length >= 2, `ranges kept: ${cacheFiles.join(', ')}`);

  // One file damaged on disk (its digest no longer matches), one re-digested after the damage (as an older version kept ranges).
  const [plainDamage, digestedDamage] = [cacheFiles[0], cacheFiles[cacheFiles.length - 1]];
  await flipByte(join(cacheFolder, plainDamage), 32 + 100);
  const kept = await readFile(join(cacheFolder, digestedDamage));
  const range = kept.subarray(32);
  range[Math.floor(range.length / 2)] ^= 0xff;
  await writeFile(join(cacheFolder, digestedDamage), Buffer.concat([createHash('sha256').update(range).digest(), range]));

  store = await open();
  const restored = await readBackup(store, backup);
  for (const [name, bytes] of Object.entries(files)) assert.ok(restored.get(name)?.equals(bytes), `${name} restored byte for byte`);
  assert.equal(store.cacheStatus?.discarded, 2, 'both damaged cache files were found and dropped');

  // Read again from the bucket, they were kept again: the next restore is served from the cache alone.
  store = await open();
  await readBackup(store, backup);
  assert.equal(store.cacheStatus?.misses, 0, 'a restore after them misses nothing');
  assert.ok(store.cacheStatus.hits > 0);
});
