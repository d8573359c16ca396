// Regression (red team, probe 5): one global reader epoch let any restore that began before a pack was doomed keep
// every pack doomed after it, store-wide: bob restoring through a slow link kept alice's deleted 48 MiB on disk for
// as long as he read (days, at a few hundred bytes a second). A reader now keeps only the packs it took chunk
// locations in: another client's freed pack goes at once, while its own packs stay until it ends, when its backup
// is deleted under it and when compaction moves its chunks and dooms their old pack.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { backupFiles, bytesOf, openStoreFixture } from './support/store-fixture';
import type { ChunkStore } from '../src/chunkstore/store';
import type { BackupRecord } from '../src/chunkstore/catalog/records';
import type { RestoreItem } from '../src/chunkstore/read';

const MEBIBYTE = 1024 * 1024;

/** A store whose readers (kept in `readers`) are closed before it is: one ending starts the deletion of what it kept, which must find the store open. */
async function readerFixture(t: TestContext, options: Parameters<typeof openStoreFixture>[0]): Promise<{ store: ChunkStore; directory: string; readers: { close(): void }[] }> {
  const readers: { close(): void }[] = [];
  const fixture = await openStoreFixture(options);
  t.after(async () => {
    for (const reader of readers) reader.close();
    await fixture.destroy();
  });
  return { store: fixture.store, directory: fixture.directory, readers };
}

/** The pack files of a local store, by name. */
async function packNames(directory: string): Promise<Set<string>> {
  const names = new Set<string>();
  for (const folder of await readdir(join(directory, 'packs')).catch(() => [] as string[])) {
    for (const file of await readdir(join(directory, 'packs', folder))) names.add(file);
  }
  return names;
}

/** A backup and the pack files it added to the store. */
async function backupWithPacks(store: ChunkStore, directory: string, client: string, files: Record<string, Buffer>): Promise<{ backup: BackupRecord; packs: string[] }> {
  const before = await packNames(directory);
  const backup = await backupFiles(store, client, files);
  return { backup, packs: [...await packNames(directory)].filter((name) => !before.has(name)) };
}

async function assertPresent(directory: string, packs: readonly string[], isPresent: boolean, message: string): Promise<void> {
  const now = await packNames(directory);
  assert.deepEqual(packs.filter((pack) => now.has(pack) !== isPresent), [], message);
}

/** Waits (briefly) for the deletion a reader's end starts in the background. */
async function waitUntilGone(directory: string, packs: readonly string[]): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const now = await packNames(directory);
    if (packs.every((pack) => !now.has(pack))) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await assertPresent(directory, packs, false, 'the packs its reader kept went once it ended');
}

test('a slow reader of one client\'s backup does not keep a pack only another client\'s deleted backup used', async (t) => {
  const { store, directory, readers } = await readerFixture(t, { resumeHoldSeconds: 0 });
  const alice = await backupWithPacks(store, directory, 'alice', { '/a/big': await bytesOf('alice', 900_000) });
  const bobFile = await bytesOf('bob', 600_000);
  const bob = await backupWithPacks(store, directory, 'bob', { '/b/file': bobFile });
  assert.ok(alice.packs.length > 0 && bob.packs.length > 0);

  const reader = store.openReader(bob.backup);
  readers.push(reader);
  const pages = reader.pages();
  const page = (await pages.next()).value as RestoreItem[]; // bob's restore is under way, and reads no further for now
  store.deleteBackups([alice.backup]);
  const report = await store.collectGarbage();
  assert.equal(report.deletedPacks, alice.packs.length);
  await assertPresent(directory, alice.packs, false, 'alice\'s freed pack is deleted by the collection, while bob still reads');
  await assertPresent(directory, bob.packs, true, 'bob\'s packs are live');

  assert.ok((await page[0].content!.readWhole()).equals(bobFile));
  assert.equal((await pages.next()).done, true);
});

test('a reader whose backup is deleted and collected under it reads every item it was handed; its packs stay until it ends', async (t) => {
  const { store, directory, readers } = await readerFixture(t, { resumeHoldSeconds: 0 });
  const files: Record<string, Buffer> = {};
  for (let index = 0; index < 20; index++) files[`/b/file-${String(index).padStart(2, '0')}`] = await bytesOf(`bob-${index}`, 50_000 + index * 1000);
  const bob = await backupWithPacks(store, directory, 'bob', files);
  const alice = await backupWithPacks(store, directory, 'alice', { '/a/big': await bytesOf('alice', 900_000) });

  const reader = store.openReader(bob.backup);
  readers.push(reader);
  const pages = reader.pages();
  const page = (await pages.next()).value as RestoreItem[];
  assert.equal(page.length, 20, 'one page holds the whole backup');
  store.deleteBackups([bob.backup, alice.backup]);
  const report = await store.collectGarbage();
  assert.equal(report.deletedPacks, bob.packs.length + alice.packs.length, 'both backups\' packs are doomed');
  await assertPresent(directory, bob.packs, true, 'the packs the reader took locations in stay while it reads');
  await assertPresent(directory, alice.packs, false, 'a pack the reader never named goes at once');

  for (const item of page) assert.ok((await item.content!.readWhole()).equals(files[item.entry.path.toString()]), item.entry.path.toString());
  // The page was short, so the backup's last: every item of it was read, and the reader ends as a whole restore
  // (a deletion before a later page still fails it: restore-last-page-deleted.test.ts, fault-restore-pause.test.ts).
  assert.equal((await pages.next()).done, true);
  reader.close();
  await waitUntilGone(directory, bob.packs);
});

test('a big file whose backup is deleted under it reads the chunks already listed; the rest is said deleted, never damaged', async (t) => {
  // Over 16 MiB: its chunk list is read 512 chunks at a time as it streams, not with the page. Packs of 4 MiB: the
  // first list page lies in two or three of the file's five packs, and the others are doomed before they are named.
  const { store, directory, readers } = await readerFixture(t, { resumeHoldSeconds: 0, packSize: 4 * MEBIBYTE });
  const big = await bytesOf('big', 17 * MEBIBYTE);
  const bob = await backupWithPacks(store, directory, 'bob', { '/b/big': big });
  assert.ok(bob.packs.length >= 4, `${bob.packs.length} packs`);

  const reader = store.openReader(bob.backup);
  readers.push(reader);
  const [item] = (await reader.pages().next()).value as RestoreItem[];
  const chunks = item.content!.chunks()[Symbol.asyncIterator]();
  const first = await chunks.next(); // the first 512 locations are listed
  store.deleteBackups([bob.backup]);
  const report = await store.collectGarbage();
  assert.equal(report.deletedPacks, bob.packs.length);
  const present = await packNames(directory);
  const kept = bob.packs.filter((pack) => present.has(pack));
  assert.ok(kept.length > 0 && kept.length < bob.packs.length, `the reader keeps the packs it named (${kept.length} of ${bob.packs.length})`);

  let offset = 0;
  const readChunk = async (chunk: { rawSize: number; decode(): Promise<Buffer> }): Promise<void> => {
    assert.ok((await chunk.decode()).equals(big.subarray(offset, offset + chunk.rawSize)), `the chunk at ${offset}`);
    offset += chunk.rawSize;
  };
  await readChunk(first.value!);
  const rest = (async () => {
    for (let next = await chunks.next(); next.done !== true; next = await chunks.next()) await readChunk(next.value);
  })();
  await assert.rejects(rest, /was deleted while it was being read/);
  assert.ok(offset >= 4 * MEBIBYTE, `the listed chunks read back (${offset} bytes)`);
  reader.close();
  await waitUntilGone(directory, kept);
});

test('compaction moving a reader\'s chunks keeps their old pack until the reader ends, and deletes what it never named', async (t) => {
  const { store, directory, readers } = await readerFixture(t, { resumeHoldSeconds: 0 });
  const keep = await bytesOf('keep', 150_000);
  const bobFirst = await backupWithPacks(store, directory, 'bob', { '/b/keep': keep, '/b/drop': await bytesOf('drop', 900_000) });
  const bobSecond = await backupFiles(store, 'bob', { '/b/keep': keep }); // all deduplicated: its chunks lie in the first's pack
  const alice = await backupWithPacks(store, directory, 'alice', { '/a/big': await bytesOf('alice', 900_000) });

  const reader = store.openReader(bobSecond);
  readers.push(reader);
  const pages = reader.pages();
  const [item] = (await pages.next()).value as RestoreItem[];
  store.deleteBackups([bobFirst.backup, alice.backup]);
  const report = await store.collectGarbage();
  assert.equal(report.rewrittenPacks, bobFirst.packs.length, 'the first backup\'s pack is compacted: its live chunks move');
  assert.equal(report.deletedPacks, alice.packs.length);
  await assertPresent(directory, bobFirst.packs, true, 'the compacted pack stays while the reader holds locations in it');
  await assertPresent(directory, alice.packs, false, 'a pack no reader named is deleted at once');

  assert.ok((await item.content!.readWhole()).equals(keep), 'the old location still reads');
  reader.close();
  await waitUntilGone(directory, bobFirst.packs);
  const again = store.openReader(bobSecond);
  const [moved] = (await again.pages().next()).value as RestoreItem[];
  assert.ok((await moved.content!.readWhole()).equals(keep), 'the new location reads');
  again.close();
});

// Regression (review): a big file's chunk list is read a page at a time by its content id, and a content id
// dropped by GC is taken again by the next new content (no AUTOINCREMENT). Bob's reader, its backup deleted
// under it, went on reading alice's new file as his: her bytes sent to his client, no error where the sizes met.
test('a big file whose content id another client\'s new file takes meanwhile: said deleted, never read as that file', async (t) => {
  const { store, readers } = await readerFixture(t, { resumeHoldSeconds: 0, packSize: 4 * MEBIBYTE });
  const bobs = await bytesOf('bob big', 17 * MEBIBYTE);
  // The same first 16 MiB, another last one: the same size, and a list of as many chunks.
  const alices = Buffer.concat([bobs.subarray(0, 16 * MEBIBYTE), await bytesOf('alice tail', MEBIBYTE)]);
  const bob = await backupFiles(store, 'bob', { '/b/big': bobs });

  const reader = store.openReader(bob);
  readers.push(reader);
  const [item] = (await reader.pages().next()).value as RestoreItem[];
  const chunks = item.content!.chunks()[Symbol.asyncIterator]();
  const first = await chunks.next();
  store.deleteBackups([bob]);
  await store.collectGarbage();
  await backupFiles(store, 'alice', { '/a/big': alices });

  let offset = 0;
  const rest = (async () => {
    for (let next = first; next.done !== true; next = await chunks.next()) {
      const bytes = await next.value.decode();
      assert.ok(bytes.equals(bobs.subarray(offset, offset + bytes.length)), `bob's reader got other bytes than his at ${offset}`);
      offset += bytes.length;
    }
  })();
  await assert.rejects(rest, /was deleted while it was being read/);
});

// Regression (review): deletions run one round at a time, and a reader ending while a round ran joined that
// round, which had checked its holds already: the pack it kept stayed on disk, held by nobody, until some later GC.
test('a reader ending while another\'s packs are being deleted: its packs go too, in a round after', async (t) => {
  const { store, directory, readers } = await readerFixture(t, { resumeHoldSeconds: 0 });
  const bob = await backupWithPacks(store, directory, 'bob', { '/b/f': await bytesOf('bob', MEBIBYTE) });
  const carol = await backupWithPacks(store, directory, 'carol', { '/c/f': await bytesOf('carol', MEBIBYTE) });
  const open = async (backup: BackupRecord): Promise<{ close(): void }> => {
    const reader = store.openReader(backup);
    readers.push(reader);
    const [item] = (await reader.pages().next()).value as RestoreItem[];
    await item.content!.readWhole();
    return reader;
  };
  const [bobs, carols] = [await open(bob.backup), await open(carol.backup)];
  store.deleteBackups([bob.backup, carol.backup]);
  await store.collectGarbage();
  await assertPresent(directory, [...bob.packs, ...carol.packs], true, 'both readers keep their packs');

  // Carol's pack is deleted slowly; bob ends while that round runs.
  const backend = store.packBackend;
  const deletePack = backend.deletePack.bind(backend);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  let isFirst = true;
  backend.deletePack = async (name: string): Promise<void> => {
    if (isFirst) {
      isFirst = false;
      await gate;
    }
    return deletePack(name);
  };
  carols.close();
  await new Promise((resolve) => setTimeout(resolve, 50));
  bobs.close();
  release();
  await waitUntilGone(directory, [...bob.packs, ...carol.packs]);
});
