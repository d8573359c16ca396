// An encrypted store in process (the local backend with encryption_key_file): every record sealed at its
// offset, read back, checked, compacted by GC (records re-sealed at their new place), and the key checked
// at open. The S3 store uses the same framing; e2e-s3-store proves it on a real bucket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ChunkStore } from '../src/chunkstore/store';
import { StoreKey, WrongKeyError } from '../src/chunkstore/crypto/store-key';
import { ConfigError } from '../src/common/errors';
import { backupFiles, bytesOf, openStoreFixture, readBackup, SMALL_CHUNKS } from './support/store-fixture';

const CANARY = 'CANARY-encrypted-local-store ';

async function packFiles(directory: string): Promise<string[]> {
  const root = join(directory, 'packs');
  const files: string[] = [];
  for (const folder of await readdir(root)) for (const name of await readdir(join(root, folder))) files.push(join(root, folder, name));
  return files.sort();
}

test('an encrypted store: packs hold no plaintext, backups read back, GC compacts, check --read-data is clean', async () => {
  const key = new StoreKey(randomBytes(32), 'key file test.key');
  const fixture = await openStoreFixture({ encryptionKey: key });
  try {
    const text = Buffer.from(CANARY.repeat(20_000));
    const big = await bytesOf('encrypted-big', 120_000);
    const gone = await bytesOf('encrypted-gone', 400_000);
    const first = await backupFiles(fixture.store, 'node1', { 'notes.txt': text, 'gone.bin': gone, 'big.bin': big });
    const second = await backupFiles(fixture.store, 'node1', { 'other.bin': await bytesOf('encrypted-other', 200_000), 'big.bin': big });
    for (const file of await packFiles(fixture.directory)) {
      const bytes = await readFile(file);
      assert.equal(bytes.includes(Buffer.from('CANARY')), false, `plaintext in ${file}`);
      assert.equal(bytes.includes(big.subarray(100_000, 100_032)), false, `raw content in ${file}`);
      assert.equal(bytes.includes(gone.subarray(0, 32)), false, `raw content in ${file}`);
    }
    assert.deepEqual(await readBackup(fixture.store, first), new Map([['big.bin', big], ['gone.bin', gone], ['notes.txt', text]]));

    fixture.store.deleteBackups([first]);
    const collected = await fixture.store.collectGarbage({ allPacks: true });
    // big.bin's records move to a new pack: opened at their old place, sealed again at the new one.
    assert.ok(collected.deletedChunks > 0 && collected.rewrittenPacks === 1, JSON.stringify(collected));
    const store = await fixture.reopen();
    const [kept] = store.listBackups('node1');
    assert.equal(kept.number, second.number);
    assert.deepEqual((await readBackup(store, kept)).get('big.bin'), big);
    const report = await store.check({ readDataPercent: 100 });
    assert.deepEqual([report.damagedChunks, report.problems], [[], []]);
    assert.equal(report.counts.chunksRead, report.counts.chunks);
  } finally {
    await fixture.destroy();
  }
});

test('a flipped byte in a sealed record is damage that check names; it never decodes', async () => {
  const key = new StoreKey(randomBytes(32), 'key file test.key');
  const fixture = await openStoreFixture({ encryptionKey: key });
  try {
    await backupFiles(fixture.store, 'node1', { 'a.bin': await bytesOf('flip', 100_000) });
    const [pack] = await packFiles(fixture.directory);
    const handle = await open(pack, 'r+');
    try {
      const byte = Buffer.alloc(1);
      await handle.read(byte, 0, 1, 100);
      byte[0] ^= 1;
      await handle.write(byte, 0, 1, 100);
    } finally {
      await handle.close();
    }
    // Even the header-only pass reads whole records when they are sealed: the damage shows without --read-data.
    const report = await fixture.store.check({ readDataPercent: 0 });
    assert.equal(report.damagedChunks.length, 1);
    assert.match(report.damagedChunks[0].reason, /fails authentication/);
    assert.equal(report.affectedFiles.length, 1);
  } finally {
    await fixture.destroy();
  }
});

test('the key is checked at open: the wrong key, no key, and a key for an unencrypted store are refused', async () => {
  const key = new StoreKey(randomBytes(32), 'key file right.key');
  const fixture = await openStoreFixture({ encryptionKey: key });
  const plain = await openStoreFixture();
  try {
    await backupFiles(fixture.store, 'node1', { 'a.bin': await bytesOf('key-check', 50_000) });
    await fixture.store.close();
    const options = { chunker: SMALL_CHUNKS, compressionLevel: 3, encoderThreads: 0, configFile: '/etc/cpsbackup/server.conf' };
    await assert.rejects(ChunkStore.open(fixture.directory, { ...options, encryptionKey: new StoreKey(randomBytes(32), 'key file wrong.key') }),
      (error: unknown) => error instanceof WrongKeyError && /was encrypted with key [0-9a-f]{16}, but key file wrong.key holds key [0-9a-f]{16}/.test(error.message));
    await assert.rejects(ChunkStore.open(fixture.directory, options),
      (error: unknown) => error instanceof ConfigError && /is encrypted \(key [0-9a-f]{16}\); set encryption_key_file/.test(error.message));
    fixture.store = await ChunkStore.open(fixture.directory, { ...options, encryptionKey: key });
    assert.equal(fixture.store.listBackups('node1').length, 1);

    await backupFiles(plain.store, 'node1', { 'a.bin': await bytesOf('plain', 50_000) });
    await plain.store.close();
    await assert.rejects(ChunkStore.open(plain.directory, { ...options, encryptionKey: key }),
      (error: unknown) => error instanceof ConfigError && /was made unencrypted; encryption_key_file can only be set for a new store/.test(error.message));
    plain.store = await ChunkStore.open(plain.directory, options);
  } finally {
    await fixture.destroy();
    await plain.destroy();
  }
});
