// Cover writes through the store's own API (cover-writer.ts): a session writes the bytes of a chunk
// only other clients hold to a pack of its own, stores it as any pack and deletes it at once, so the
// backup costs what a backup of new bytes costs; the store keeps one copy. A chunk the client held
// itself is not written again. A cover pack left by a crash is no orphan to check and goes at the next open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ChunkStore, type StoreOptions } from '../src/chunkstore/store';
import { LocalBackend } from '../src/chunkstore/backend/local-backend';
import type { Logger } from '../src/common/logger';
import { backupFiles, readBackup, SMALL_CHUNKS } from './support/store-fixture';

/** The store's local backend, noting each pack put (with its size) and each deletion. */
class NotingBackend extends LocalBackend {
  readonly puts: { name: string; size: number }[] = [];
  readonly deletions: string[] = [];
  /** Makes the deletion of cover packs fail, as a bucket policy that refuses DELETE would. */
  isCoverDeleteFailing = false;

  override async putPack(name: string, stagedFile: string): Promise<void> {
    const { size } = await stat(stagedFile);
    await super.putPack(name, stagedFile);
    this.puts.push({ name, size });
  }

  override async deletePack(name: string): Promise<void> {
    if (this.isCoverDeleteFailing && name.endsWith('.cover')) throw Object.assign(new Error(`EIO: i/o error, unlink '${name}'`), { code: 'EIO' });
    await super.deletePack(name);
    this.deletions.push(name);
  }

  coverBytes(): number {
    return this.puts.filter(({ name }) => name.endsWith('.cover')).reduce((sum, { size }) => sum + size, 0);
  }
}

async function openNoted(t: test.TestContext, options: Partial<StoreOptions> = {}): Promise<{ store: ChunkStore; backend: NotingBackend; directory: string }> {
  const directory = await mkdtemp(join(tmpdir(), 'cpsbackup-store-'));
  const backend = new NotingBackend(directory);
  const store = await ChunkStore.open(directory, { chunker: SMALL_CHUNKS, compressionLevel: 3, encoderThreads: 0, backend, ...options });
  t.after(async () => {
    await store.close().catch(() => undefined);
    await rm(directory, { recursive: true, force: true });
  });
  return { store, backend, directory };
}

async function packFiles(directory: string): Promise<string[]> {
  const entries = await readdir(join(directory, 'packs'), { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => entry.name).sort();
}

test('bytes only another client holds are written to a cover pack, stored and deleted; the store keeps one copy', async (t) => {
  const { store, backend, directory } = await openNoted(t);
  const shared = randomBytes(2 * 1024 * 1024);
  await backupFiles(store, 'node1', { '/a/shared.bin': shared });
  const realBytes = backend.puts.reduce((sum, { size }) => sum + size, 0);
  const packsBefore = await packFiles(directory);
  const copy = await backupFiles(store, 'node2', { '/b/copy.bin': shared });
  // Random bytes do not compress: the cover pack is the size the pack of new chunks was, framing and all.
  assert.equal(backend.coverBytes(), realBytes, 'node2 wrote what node1 wrote');
  const covers = backend.puts.filter(({ name }) => name.endsWith('.cover')).map(({ name }) => name);
  assert.ok(covers.length > 0);
  // The deletions are not waited for by the backup: they follow at once.
  for (let wait = 0; wait < 100 && backend.deletions.length < covers.length; wait++) await sleep(20);
  assert.deepEqual(backend.deletions, covers, 'each cover pack deleted once stored');
  assert.deepEqual(await packFiles(directory), packsBefore, 'no pack added: one copy kept');
  assert.equal(store.figures().uniqueBytes, shared.length);
  assert.equal(copy.newBytes, shared.length, 'new to node2');
  assert.ok((await readBackup(store, copy)).get('/b/copy.bin')?.equals(shared));
  // Its own bytes again: it knows it holds them, nothing to cover.
  await backupFiles(store, 'node2', { '/b/again.bin': shared });
  assert.deepEqual(backend.puts.filter(({ name }) => name.endsWith('.cover')).map(({ name }) => name), covers, 'no cover write for the client\'s own chunks');
  assert.deepEqual((await store.check({ readDataPercent: 100 })).problems, []);
});

/** The pack_intents rows (packs announced before their put that have no row yet), once every cover deletion begun has ended. */
async function settledIntentsOf(store: ChunkStore): Promise<string[]> {
  const inside = store as unknown as { coverDeletions: { settled(): Promise<void> }; catalog: { packs: { intents(): Set<string> } } };
  await inside.coverDeletions.settled();
  return [...inside.catalog.packs.intents()].sort();
}

// Regression (review of pack intents): a cover pack's intent, recorded before its put as every pack's is,
// stayed after its object was deleted until the store's next start (no pack row ever removes it): a server
// running for months gathered one row per cover pack. It goes once the object is deleted; a cover pack whose
// delete failed keeps it for the next start, which deletes the object.
test('a cover pack\'s intent row goes once its object is deleted, and stays while the object does', async (t) => {
  const { store, backend } = await openNoted(t);
  const shared = randomBytes(1024 * 1024);
  await backupFiles(store, 'node1', { '/a/shared.bin': shared });
  await backupFiles(store, 'node2', { '/b/copy.bin': shared });
  const covers = backend.puts.filter(({ name }) => name.endsWith('.cover')).map(({ name }) => name);
  assert.ok(covers.length > 0);
  assert.deepEqual(await settledIntentsOf(store), [], 'no intent left by the deleted cover packs');
  assert.deepEqual(backend.deletions, covers);

  backend.isCoverDeleteFailing = true;
  await backupFiles(store, 'node3', { '/c/copy.bin': shared });
  const failed = backend.puts.filter(({ name }) => name.endsWith('.cover') && !covers.includes(name)).map(({ name }) => name);
  assert.ok(failed.length > 0);
  assert.deepEqual(await settledIntentsOf(store), failed.sort(), 'the cover packs still stored keep theirs');
});

test('with hideSharedChunks false, bytes only another client holds are not written again', async (t) => {
  const { store, backend } = await openNoted(t, { hideSharedChunks: false });
  const shared = randomBytes(1024 * 1024);
  await backupFiles(store, 'node1', { '/a/shared.bin': shared });
  const puts = backend.puts.length;
  await backupFiles(store, 'node2', { '/b/copy.bin': shared });
  assert.equal(backend.coverBytes(), 0);
  // The second backup's chunks were all known: its session sealed no pack at all.
  assert.equal(backend.puts.length, puts);
});

test('a cover pack a crash left is no orphan to check, and the next open deletes it; any other unknown pack is an orphan', async (t) => {
  const { store: first, directory } = await openNoted(t);
  await backupFiles(first, 'node1', { '/a/file': randomBytes(100_000) });
  const cover = `${randomBytes(16).toString('hex')}.cover`;
  const stray = randomBytes(16).toString('hex');
  // The stray as a crash leaves one: announced before its put (pack_intents), no row after it.
  (first as unknown as { catalog: { packs: { recordIntent(name: string, at: number): void } } }).catalog.packs.recordIntent(stray, Date.now());
  for (const name of [cover, stray]) {
    await mkdir(join(directory, 'packs', name.slice(0, 2)), { recursive: true });
    await writeFile(join(directory, 'packs', name.slice(0, 2), `${name}.pack`), randomBytes(50_000));
  }
  const problems = (await first.check({ readDataPercent: 0 })).problems;
  assert.equal(problems.length, 1, problems.join('\n'));
  assert.match(problems[0], new RegExp(`pack ${stray} .*orphan`));
  await first.close();
  const reopened = await ChunkStore.open(directory, { chunker: SMALL_CHUNKS, compressionLevel: 3, encoderThreads: 0 });
  t.after(() => reopened.close());
  // Counted apart: the start's warning about orphan packs (a crash between a pack's put and its catalog row) is not about them.
  assert.deepEqual([reopened.recovery.removedOrphanPacks, reopened.recovery.removedCoverPacks], [1, 1]);
  assert.ok(!(await packFiles(directory)).some((name) => name.startsWith(cover) || name.startsWith(stray)));
});

test('a cover pack that cannot be deleted fails no backup: it is named in the log, the close waits for the attempt, and the next open deletes it', async (t) => {
  const warnings: string[] = [];
  const logger: Logger = { info: () => undefined, warn: (text: string) => { warnings.push(text); }, error: (text: string) => { warnings.push(text); } };
  const { store, backend, directory } = await openNoted(t, { logger });
  const shared = randomBytes(1024 * 1024);
  await backupFiles(store, 'node1', { '/a/shared.bin': shared });
  backend.isCoverDeleteFailing = true;
  const copy = await backupFiles(store, 'node2', { '/b/copy.bin': shared });
  assert.equal(copy.state, 'committed');
  await store.close();
  const left = (await packFiles(directory)).filter((name) => name.includes('.cover'));
  assert.equal(left.length, 1, 'the cover pack is still there');
  assert.ok(warnings.some((line) => line.includes(`cover pack ${left[0].slice(0, -'.pack'.length)} in ${directory} could not be deleted (EIO`)), warnings.join('\n'));
  const reopened = await ChunkStore.open(directory, { chunker: SMALL_CHUNKS, compressionLevel: 3, encoderThreads: 0 });
  t.after(() => reopened.close());
  assert.deepEqual((await packFiles(directory)).filter((name) => name.includes('.cover')), []);
  assert.ok((await readBackup(reopened, copy)).get('/b/copy.bin')?.equals(shared));
});
