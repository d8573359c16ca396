// The Catalog's contract, as one shared suite run on a temp file and on ':memory:': backup numbers,
// entry paging order, idempotent chunk inserts and single commits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { copyFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Catalog } from '../src/chunkstore/catalog/catalog';
import type { StoredEntry } from '../src/chunkstore/catalog/records';
import { CorruptError } from '../src/common/errors';

interface OpenedCatalog {
  readonly catalog: Catalog;
  /** Closes and reopens the same catalog, or undefined where nothing outlives the connection. */
  readonly reopen?: () => Catalog;
  close(): Promise<void>;
}

const implementations: Record<string, () => Promise<OpenedCatalog>> = {
  file: async () => {
    const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-catalog-'));
    const file = join(folder, 'catalog.sqlite');
    let catalog = new Catalog(file);
    return {
      get catalog() { return catalog; },
      reopen: () => {
        catalog.close();
        catalog = new Catalog(file);
        return catalog;
      },
      close: async () => {
        catalog.close();
        await rm(folder, { recursive: true, force: true });
      },
    };
  },
  memory: async () => {
    const catalog = new Catalog(':memory:');
    return { catalog, close: async () => catalog.close() };
  },
};

const stats = { files: 0, logicalBytes: 0, newBytes: 0, storedBytes: 0 };

function entry(path: string): StoredEntry {
  return {
    path, type: 1, mode: 0o644, uid: 0, gid: 0, mtimeSec: 1, mtimeNsec: 0, ctimeSec: 1, ctimeNsec: 0,
    inode: 1, device: 1, size: 0, linkTarget: '', contentId: null,
  };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** SQLite's default collation compares UTF-8 bytes, which differs from JavaScript's UTF-16 sort. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

for (const [name, open] of Object.entries(implementations)) {
  test(`catalog (${name})`, async (t) => {
    const opened = await open();
    t.after(() => opened.close());

    await t.test('backup numbers increase per client and are never reused after a delete', () => {
      const catalog = opened.catalog;
      const node1 = catalog.clientId('node1');
      const node2 = catalog.clientId('node2');
      assert.equal(catalog.clientId('node1'), node1);
      const numbers = [1, 2, 3].map(() => catalog.createBackup(node1, 0, 'host', {}, Date.now()).number);
      assert.deepEqual(numbers, [1, 2, 3]);
      assert.equal(catalog.createBackup(node2, 0, 'host', {}, Date.now()).number, 1);
      const third = catalog.backupByNumber(node1, 3)!;
      catalog.deleteBackup(third.id);
      assert.equal(catalog.createBackup(node1, 0, 'host', {}, Date.now()).number, 4);
      for (const backup of [1, 2, 4]) catalog.deleteBackup(catalog.backupByNumber(node1, backup)!.id);
      assert.equal(catalog.createBackup(node1, 0, 'host', {}, Date.now()).number, 5);
    });

    if (opened.reopen) {
      await t.test('numbers stay unique across a reopen', () => {
        const catalog = opened.reopen!();
        const node1 = catalog.clientId('node1');
        catalog.deleteBackup(catalog.backupByNumber(node1, 5)!.id);
        assert.equal(catalog.createBackup(node1, 0, 'host', {}, Date.now()).number, 6);
      });
    }

    await t.test('entries come back in path order across page boundaries', () => {
      const catalog = opened.catalog;
      const clientId = catalog.clientId('paging');
      const backup = catalog.createBackup(clientId, 0, 'host', {}, Date.now());
      const paths = new Set<string>(['/a', '/a b', '/a/b', '/a-b', '/a\u00e9', '/a\u{1f600}', '/a\uffe0', '/Z', '/a/b/c']);
      for (let index = 0; index < 2497; index++) paths.add(`/tree/${(index * 7919) % 2497}/file ${index % 13}`);
      // Inserted in an order unrelated to the path order, so the query's ORDER BY is what is tested.
      const shuffled = [...paths].sort((a, b) => Buffer.compare(sha256(a), sha256(b)));
      catalog.insertEntries(backup.id, shuffled.map(entry));
      const expected = [...paths].sort(byteOrder);
      for (const pageSize of [1000, 7, 1, expected.length, expected.length + 1]) {
        assert.deepEqual([...catalog.entries(backup.id, pageSize)].map((stored) => stored.path), expected, `page size ${pageSize}`);
      }
      assert.equal(catalog.entryAt(backup.id, '/a b')?.path, '/a b');
      const other = catalog.createBackup(clientId, 0, 'host', {}, Date.now());
      assert.deepEqual([...catalog.entries(other.id)], []);
    });

    await t.test('insertChunk is idempotent by hash: the first location wins', () => {
      const catalog = opened.catalog;
      const packId = catalog.createPack('pack-a', Date.now());
      const hash = sha256('chunk one');
      const first = catalog.insertChunk(hash, packId, 0, 100, 200);
      const second = catalog.insertChunk(hash, packId, 4096, 101, 200);
      assert.equal(second, first);
      const location = catalog.findChunk(hash)!;
      assert.equal(location.chunkId, first);
      assert.equal(location.offset, 0);
      assert.equal(location.storedSize, 100);
      assert.equal(location.packName, 'pack-a');
      assert.notEqual(catalog.insertChunk(sha256('chunk two'), packId, 200, 10, 10), first);
      assert.equal(catalog.findChunk(sha256('never stored')), undefined);
      assert.deepEqual({ ...catalog.knownChunk(hash) }, { chunkId: first, packId });
      assert.equal(catalog.knownChunk(sha256('never stored')), undefined);
    });

    await t.test('a backup commits once; only committed backups are listed', () => {
      const catalog = opened.catalog;
      const clientId = catalog.clientId('committer');
      const backup = catalog.createBackup(clientId, 0, 'host', { app: '1.2' }, 1000);
      assert.deepEqual(catalog.committedBackups(clientId), []);
      assert.equal(catalog.runningBackups().some((running) => running.id === backup.id), true);
      catalog.commitBackup(backup.id, { ...stats, files: 3 }, { app: '1.2' }, 2000);
      assert.throws(() => catalog.commitBackup(backup.id, stats, {}, 3000), CorruptError);
      const committed = catalog.committedBackups(clientId);
      assert.equal(committed.length, 1);
      assert.equal(committed[0].state, 'committed');
      assert.equal(committed[0].files, 3);
      assert.equal(committed[0].finishedAt, 2000);
      assert.deepEqual(committed[0].labels, { app: '1.2' });
      assert.equal(catalog.latestCommitted(clientId)?.id, backup.id);
      catalog.deleteBackup(backup.id);
      assert.throws(() => catalog.commitBackup(backup.id, stats, {}, 4000), CorruptError);
    });
  });
}

test('a committed backup leaves the write-ahead log empty: the store holds what it needs, and catalog.db alone is the whole catalog', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-catalog-'));
  const file = join(folder, 'catalog.sqlite');
  const catalog = new Catalog(file);
  t.after(async () => {
    catalog.close();
    await rm(folder, { recursive: true, force: true });
  });
  const backup = catalog.createBackup(catalog.clientId('node1'), 0, 'host', {}, Date.now());
  catalog.insertEntries(backup.id, Array.from({ length: 5000 }, (_, index) => entry(`/data/file-${index}`)));
  assert.ok(statSync(`${file}-wal`).size > 0, 'the entries went to the log first');
  catalog.commitBackup(backup.id, stats, {}, Date.now());
  assert.equal(statSync(`${file}-wal`).size, 0);
  const copy = join(folder, 'copy.sqlite');
  copyFileSync(file, copy);
  const copied = new Catalog(copy);
  try {
    assert.equal(copied.backupById(backup.id)?.state, 'committed');
    assert.equal([...copied.entries(backup.id)].length, 5000);
  } finally {
    copied.close();
  }
});
