// The contract every PackBackend keeps (src/chunkstore/backend/pack-backend.ts), as one suite run
// against each implementation: exact ranges, immutability, listing past a page, idempotent deletes,
// concurrent reads, staged files consumed, blobs beside packs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CorruptError, NotFoundError } from '../../src/common/errors';
import { ObjectExistsError, type PackBackend, type StoredObject } from '../../src/chunkstore/backend/pack-backend';
import { testBytes } from './test-bytes';

export { testBytes };

export interface BackendUnderTest {
  /** Empty when handed out; no other test sees its objects. */
  readonly backend: PackBackend;
  /** Where staged files may be written (for the local backend: on the store's filesystem). */
  readonly stagingFolder: string;
  /** Closes the backend and removes what the test made. */
  dispose(): Promise<void>;
}

export function newName(): string {
  return randomBytes(16).toString('hex');
}

export async function stage(folder: string, content: Buffer): Promise<string> {
  const file = join(folder, `staged-${newName()}`);
  await writeFile(file, content);
  return file;
}

/** Names and sizes of what a listing yields, by name (modification times: collectWithTimes). */
export async function collect(objects: AsyncIterable<StoredObject>): Promise<{ name: string; size: number }[]> {
  return (await collectWithTimes(objects)).map(({ name, size }) => ({ name, size }));
}

export async function collectWithTimes(objects: AsyncIterable<StoredObject>): Promise<StoredObject[]> {
  const all: StoredObject[] = [];
  for await (const object of objects) all.push(object);
  return all.sort((left, right) => left.name.localeCompare(right.name));
}

/** Runs `count` tasks, `concurrency` at a time. */
export async function inParallel(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) await task(next++);
  }));
}

/** Registers the contract tests; `open` is called once per test, after the suite's `before` hooks. */
export function packBackendSuite(label: string, open: () => Promise<BackendUnderTest>, options: { readonly manyObjects?: number } = {}): void {
  const withBackend = (name: string, body: (subject: BackendUnderTest) => Promise<void>): void => {
    test(`${label}: ${name}`, async () => {
      const subject = await open();
      try {
        await body(subject);
      } finally {
        await subject.dispose();
      }
    });
  };

  withBackend('putPack stores the staged file (consumed) and readRange returns exact ranges, the last byte included', async ({ backend, stagingFolder }) => {
    const content = testBytes('ranges', 300_001);
    const name = newName();
    const staged = await stage(stagingFolder, content);
    await backend.putPack(name, staged);
    assert.equal(existsSync(staged), false, 'the staged file is consumed');
    for (const [offset, length] of [[0, 1], [0, content.length], [1234, 5000], [content.length - 1, 1], [content.length - 777, 777], [65_536, 65_536]]) {
      assert.deepEqual(await backend.readRange(name, offset, length), content.subarray(offset, offset + length), `range ${offset}+${length}`);
    }
    assert.deepEqual(await collect(backend.listPacks()), [{ name, size: content.length }]);
  });

  withBackend('a range past the end is CorruptError; a missing pack is NotFoundError', async ({ backend, stagingFolder }) => {
    const content = testBytes('short', 1000);
    const name = newName();
    await backend.putPack(name, await stage(stagingFolder, content));
    await assert.rejects(backend.readRange(name, 990, 11), CorruptError, 'one byte past the end');
    await assert.rejects(backend.readRange(name, 1000, 1), CorruptError, 'starting at the end');
    await assert.rejects(backend.readRange(name, 5000, 10), CorruptError, 'starting far past the end');
    await assert.rejects(backend.readRange(newName(), 0, 10), NotFoundError);
    assert.deepEqual(await backend.readRange(name, 0, 1000), content, 'the pack is still whole');
  });

  withBackend('an empty pack is stored and listed with size 0', async ({ backend, stagingFolder }) => {
    const name = newName();
    await backend.putPack(name, await stage(stagingFolder, Buffer.alloc(0)));
    assert.deepEqual(await collect(backend.listPacks()), [{ name, size: 0 }]);
    await assert.rejects(backend.readRange(name, 0, 1), CorruptError);
  });

  withBackend('objects are immutable: a second put of a name rejects, leaves its staged file and the first content', async ({ backend, stagingFolder }) => {
    const name = newName();
    const first = testBytes('first', 4096);
    await backend.putPack(name, await stage(stagingFolder, first));
    const secondStaged = await stage(stagingFolder, testBytes('second', 5000));
    await assert.rejects(backend.putPack(name, secondStaged), (error: unknown) => error instanceof ObjectExistsError && error.objectName === name);
    assert.equal(existsSync(secondStaged), true, 'a rejected put leaves its staged file');
    assert.deepEqual(await backend.readRange(name, 0, first.length), first);
    assert.deepEqual(await collect(backend.listPacks()), [{ name, size: first.length }]);
    // The same bytes again are refused just the same: a name is written once.
    await assert.rejects(backend.putPack(name, await stage(stagingFolder, first)), ObjectExistsError);
  });

  withBackend('listPacks returns every pack across listing pages', async ({ backend, stagingFolder }) => {
    const count = options.manyObjects ?? 1100;
    const expected: { name: string; size: number }[] = [];
    await inParallel(count, 16, async (index) => {
      const name = newName();
      const size = index % 7;
      await backend.putPack(name, await stage(stagingFolder, testBytes(name, size)));
      expected.push({ name, size });
    });
    const listed = await collect(backend.listPacks());
    assert.equal(listed.length, count);
    assert.deepEqual(listed, expected.sort((left, right) => left.name.localeCompare(right.name)));
  });

  withBackend('deletes are idempotent and a deleted pack is gone', async ({ backend, stagingFolder }) => {
    const kept = newName();
    const deleted = newName();
    await backend.putPack(kept, await stage(stagingFolder, testBytes('kept', 100)));
    await backend.putPack(deleted, await stage(stagingFolder, testBytes('deleted', 100)));
    await backend.deletePack(deleted);
    await backend.deletePack(deleted);
    await backend.deletePack(newName());
    assert.deepEqual((await collect(backend.listPacks())).map((object) => object.name), [kept]);
    await assert.rejects(backend.readRange(deleted, 0, 10), NotFoundError);
    assert.deepEqual(await backend.readRange(kept, 0, 100), testBytes('kept', 100));
  });

  withBackend('many concurrent reads of several packs each get their own bytes', async ({ backend, stagingFolder }) => {
    const packs = await Promise.all([0, 1, 2].map(async (index) => {
      const name = newName();
      const content = testBytes(`concurrent ${index}`, 2 * 1024 * 1024 + index);
      await backend.putPack(name, await stage(stagingFolder, content));
      return { name, content };
    }));
    await Promise.all(Array.from({ length: 96 }, async (_, index) => {
      const { name, content } = packs[index % packs.length];
      const length = 1 + ((index * 7919) % 200_000);
      const offset = (index * 104_729) % (content.length - length);
      assert.deepEqual(await backend.readRange(name, offset, length), content.subarray(offset, offset + length), `read ${index}`);
    }));
  });

  withBackend('blobs: put keeps the staged file, get writes or replaces a file, list and delete; packs and blobs are apart', async ({ backend, stagingFolder }) => {
    const content = testBytes('blob', 70_000);
    const staged = await stage(stagingFolder, content);
    await backend.putBlob('catalog-000001', staged);
    assert.equal(existsSync(staged), true, 'putBlob leaves the staged file');
    await assert.rejects(backend.putBlob('catalog-000001', await stage(stagingFolder, testBytes('other', 10))), ObjectExistsError);
    const target = join(stagingFolder, 'fetched');
    await backend.getBlob('catalog-000001', target);
    assert.deepEqual(await readFile(target), content);
    await writeFile(target, 'older content, longer than the blob? no, but replaced all the same');
    await backend.getBlob('catalog-000001', target);
    assert.deepEqual(await readFile(target), content, 'an existing file is replaced');
    await writeFile(target, 'kept');
    await assert.rejects(backend.getBlob('catalog-000404', target), NotFoundError);
    assert.equal(await readFile(target, 'utf8'), 'kept', 'a missing blob leaves the target untouched');
    await backend.putBlob('config', await stage(stagingFolder, Buffer.from('{}')));
    assert.deepEqual(await collect(backend.listBlobs()), [{ name: 'catalog-000001', size: content.length }, { name: 'config', size: 2 }]);
    assert.deepEqual(await collect(backend.listPacks()), [], 'blobs are not packs');
    await backend.deleteBlob('catalog-000001');
    await backend.deleteBlob('catalog-000001');
    assert.deepEqual((await collect(backend.listBlobs())).map((object) => object.name), ['config']);
  });

  withBackend('listings carry each object\'s modification time, by the store\'s clock', async ({ backend, stagingFolder }) => {
    const before = Date.now();
    const name = newName();
    await backend.putPack(name, await stage(stagingFolder, testBytes('timed', 100)));
    await backend.putBlob('timed', await stage(stagingFolder, testBytes('timed blob', 10)));
    const after = Date.now();
    const listed = [...await collectWithTimes(backend.listPacks()), ...await collectWithTimes(backend.listBlobs())];
    assert.deepEqual(listed.map((object) => object.name), [name, 'timed']);
    for (const object of listed) {
      // The store's clock is this machine's here; S3 gives whole seconds.
      const time = object.modifiedAt.getTime();
      assert.ok(time >= before - 2000 && time <= after + 2000, `${object.name}: ${object.modifiedAt.toISOString()} not within the put (${before}..${after})`);
    }
  });
}

/** A fresh folder for staged files, removed by dispose. */
export async function stagingFolderFor(prefix: string): Promise<{ folder: string; remove(): Promise<void> }> {
  const folder = await mkdtemp(join('/tmp', prefix));
  return { folder, remove: () => rm(folder, { recursive: true, force: true }) };
}
