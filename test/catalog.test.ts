// The Catalog's contract, as one shared suite run on a temp file and on ':memory:': backup numbers,
// entry paging in byte order (names are bytes), idempotent chunk rows, single commits, reference
// counts kept by commit and delete, a sweep that spares what sessions hold; and the version-1 migration.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { Catalog } from '../src/chunkstore/catalog/catalog';
import { SCHEMA_VERSION } from '../src/chunkstore/catalog/schema';
import { entryMetadataBytes } from '../src/chunkstore/session/entry-metadata-bytes';
import { RECORD_HEADER_SIZE } from '../src/chunkstore/pack/pack-format';
import type { StoredEntry } from '../src/chunkstore/catalog/records';
import { CorruptError } from '../src/common/errors';
import { contentHashOf } from '../src/common/content-hash';

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

const stats = { files: 0, logicalBytes: 0, newBytes: 0, storedBytes: 0, unreadableFiles: 0 };

/** An entry's fields; its content id goes beside it to entries.insert. */
function entry(path: Buffer | string): Omit<StoredEntry, 'contentId'> {
  return {
    path: typeof path === 'string' ? Buffer.from(path) : path, type: 1, mode: 0o644, uid: 0, gid: 0, user: 'root', group: 'root',
    mtimeSec: 1, mtimeNsec: 0, ctimeSec: 1, ctimeNsec: 0, inode: 1, device: 1, nlink: 1, rdev: 0, size: 0,
    linkTarget: Buffer.alloc(0), xattrs: [], extents: [], inodeFlags: 0,
  };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

const nothingHeld = { hasContent: () => false, hasChunk: () => false };

for (const [name, open] of Object.entries(implementations)) {
  test(`catalog (${name})`, async (t) => {
    const opened = await open();
    t.after(() => opened.close());

    await t.test('backup numbers increase per client and are never reused after a delete', () => {
      const catalog = opened.catalog;
      const node1 = catalog.clients.idOf('node1');
      const node2 = catalog.clients.idOf('node2');
      assert.equal(catalog.clients.idOf('node1'), node1);
      const numbers = [1, 2, 3].map(() => catalog.backups.create(node1, 0, 'host', {}, Date.now()).number);
      assert.deepEqual(numbers, [1, 2, 3]);
      assert.equal(catalog.backups.create(node2, 0, 'host', {}, Date.now()).number, 1);
      catalog.backups.delete(catalog.backups.byNumber(node1, 3)!.id);
      assert.equal(catalog.backups.create(node1, 0, 'host', {}, Date.now()).number, 4);
      for (const backup of [1, 2, 4]) catalog.backups.delete(catalog.backups.byNumber(node1, backup)!.id);
      assert.equal(catalog.backups.create(node1, 0, 'host', {}, Date.now()).number, 5);
    });

    if (opened.reopen) {
      await t.test('numbers stay unique across a reopen', () => {
        const catalog = opened.reopen!();
        const node1 = catalog.clients.idOf('node1');
        catalog.backups.delete(catalog.backups.byNumber(node1, 5)!.id);
        assert.equal(catalog.backups.create(node1, 0, 'host', {}, Date.now()).number, 6);
      });
    }

    await t.test('complete backups get gapless ordinals at commit: failed attempts, partials and deletions take none', () => {
      const catalog = opened.catalog;
      const clientId = catalog.clients.idOf('ordinals');
      const commitNew = (kind: number): { number: number; ordinal: number | null } => {
        const backup = catalog.backups.create(clientId, kind, 'host', {}, Date.now());
        catalog.backups.commit(backup.id, stats, {}, Date.now());
        const committed = catalog.backups.byId(backup.id)!;
        return { number: committed.number, ordinal: committed.completeOrdinal };
      };
      assert.deepEqual(commitNew(0), { number: 1, ordinal: 1 });
      const failed = catalog.backups.create(clientId, 0, 'host', {}, Date.now());
      catalog.backups.delete(failed.id); // abandoned before commit: its number is used up
      assert.deepEqual(commitNew(1), { number: 3, ordinal: null }, 'a partial backup has no ordinal');
      const second = commitNew(0);
      assert.deepEqual(second, { number: 4, ordinal: 2 });
      catalog.backups.delete(catalog.backups.byNumber(clientId, 4)!.id);
      assert.deepEqual(commitNew(0), { number: 5, ordinal: 3 }, 'a deleted complete backup keeps its place');
    });

    await t.test('entries come back in byte order across page boundaries, any byte but NUL in a name', () => {
      const catalog = opened.catalog;
      const clientId = catalog.clients.idOf('paging');
      const backup = catalog.backups.create(clientId, 0, 'host', {}, Date.now());
      const paths = new Map<string, Buffer>();
      const add = (path: Buffer): void => { paths.set(path.toString('hex'), path); };
      for (const text of ['/a', '/a b', '/a/b', '/a-b', '/a\u00e9', '/a\u{1f600}', '/a\uffe0', '/Z', '/a/b/c', '/new\nline']) add(Buffer.from(text));
      add(Buffer.from([0x2f, 0x62, 0x61, 0x64, 0xff, 0xfe])); // "/bad" and two bytes that are not UTF-8
      add(Buffer.from([0x2f, 0x80]));
      add(Buffer.concat([Buffer.from('/'), Buffer.alloc(255, 0x61)]));
      for (let index = 0; index < 2497; index++) add(Buffer.from(`/tree/${(index * 7919) % 2497}/file ${index % 13}`));
      // Inserted in an order unrelated to the path order, so the query's ORDER BY is what is tested.
      const shuffled = [...paths.values()].sort((a, b) => Buffer.compare(sha256(a.toString('hex')), sha256(b.toString('hex'))));
      catalog.entries.insert(backup.id, shuffled.map((path) => entry(path)), shuffled.map(() => null));
      const expected = [...paths.values()].sort(Buffer.compare).map((path) => path.toString('hex'));
      for (const pageSize of [1000, 7, 1, expected.length, expected.length + 1]) {
        assert.deepEqual([...catalog.entries.all(backup.id, pageSize)].map((stored) => stored.path.toString('hex')), expected, `page size ${pageSize}`);
      }
      assert.deepEqual(catalog.entries.at(backup.id, Buffer.from([0x2f, 0x80]))?.path, Buffer.from([0x2f, 0x80]));
      assert.equal(catalog.entries.at(backup.id, Buffer.from('/a\u00e9'))?.path.toString(), '/a\u00e9');
      const other = catalog.backups.create(clientId, 0, 'host', {}, Date.now());
      assert.deepEqual([...catalog.entries.all(other.id)], []);
    });

    await t.test('every field of an entry round-trips: owners by name, devices, xattrs as bytes, sparse extents', () => {
      const catalog = opened.catalog;
      const backup = catalog.backups.create(catalog.clients.idOf('fields'), 0, 'host', {}, Date.now());
      const fields: Omit<StoredEntry, 'contentId'> = {
        ...entry('/dev/sda'), type: 7, mode: 0o6755, uid: 1234, gid: 5678, user: 'alice', group: '', nlink: 3, rdev: 2049,
        mtimeSec: 1_700_000_000, mtimeNsec: 123_456_789, ctimeSec: 1_700_000_001, ctimeNsec: 999_999_999, inode: 2 ** 40, device: 66306,
        size: 4 * 2 ** 30, linkTarget: Buffer.from([0x2e, 0x2e, 0xff]),
        xattrs: [{ name: Buffer.from('user.note'), value: Buffer.from([0, 1, 2, 255]) }, { name: Buffer.from('system.posix_acl_access'), value: Buffer.alloc(0) }],
        extents: [0, 4096, 2 ** 31, 8192],
      };
      catalog.entries.insert(backup.id, [fields], [null]);
      const full: StoredEntry = { ...fields, contentId: null };
      assert.deepEqual(catalog.entries.at(backup.id, full.path), full);
    });

    // The unchanged check sends a file's ACLs and their recorded names (a renamed user changes nothing in
    // its stat, and the client must see the names stored): only those, and for most entries nothing.
    await t.test('the unchanged check reads an entry\'s ACLs and their names, and no other attribute', () => {
      const catalog = opened.catalog;
      const backup = catalog.backups.create(catalog.clients.idOf('acls'), 0, 'host', {}, Date.now());
      const acl = { name: Buffer.from('system.posix_acl_access'), value: Buffer.from([2, 0, 0, 0, 2, 0, 7, 0, 0xe8, 3, 0, 0]) };
      const names = { name: Buffer.from('cpsbackup.acl_names'), value: Buffer.from('{"users":{"1000":"alice"},"groups":{}}') };
      // A value that holds an ACL's name is no ACL.
      const lookalike = { name: Buffer.from('user.note'), value: Buffer.from('system.posix_acl_access') };
      catalog.entries.insert(backup.id, [
        { ...entry('/a'), xattrs: [names, acl, { name: Buffer.from('user.note'), value: Buffer.from('x') }] },
        { ...entry('/b'), xattrs: [lookalike] },
        { ...entry('/c'), xattrs: [{ name: Buffer.from('security.selinux'), value: Buffer.from('system_u:object_r:etc_t:s0') }] },
        entry('/d'),
      ], [null, null, null, null]);
      assert.deepEqual([...catalog.entries.unchangedCheck(backup.id)].map((stored) => [stored.path.toString(), stored.aclXattrs]),
        [['/a', [names, acl]], ['/b', []], ['/c', []], ['/d', []]]);
    });

    // Regression guard beside the addon's int64 overflow (times after 2262): the catalog holds any time a file system does.
    await t.test('times past 2262 and before 1970 keep their seconds and nanoseconds', () => {
      const catalog = opened.catalog;
      const backup = catalog.backups.create(catalog.clients.idOf('times'), 0, 'host', {}, Date.now());
      const times = [[15_032_385_535, 999_999_999], [-2_208_988_800, 1], [-1, 500_000_000], [Number.MAX_SAFE_INTEGER, 0], [Number.MIN_SAFE_INTEGER, 7]];
      const entries = times.map(([seconds, nanoseconds], index) => (
        { ...entry(`/t${index}`), mtimeSec: seconds, mtimeNsec: nanoseconds, ctimeSec: -seconds, ctimeNsec: nanoseconds }));
      catalog.entries.insert(backup.id, entries, entries.map(() => null));
      for (const stored of entries) {
        const read = catalog.entries.at(backup.id, stored.path);
        assert.deepEqual([read?.mtimeSec, read?.mtimeNsec, read?.ctimeSec, read?.ctimeNsec], [stored.mtimeSec, stored.mtimeNsec, stored.ctimeSec, stored.ctimeNsec]);
      }
    });

    await t.test('chunk rows are idempotent by hash: the first location wins', () => {
      const catalog = opened.catalog;
      const hash = sha256('chunk one');
      const [first, second] = catalog.transaction(() => {
        const packA = catalog.packs.insert('pack-a', 4096, Date.now());
        const packB = catalog.packs.insert('pack-b', 4096, Date.now());
        return [catalog.chunks.insertRows(packA, [{ hash, offset: 0, storedSize: 100, rawSize: 200 }])[0],
          catalog.chunks.insertRows(packB, [{ hash, offset: 44, storedSize: 101, rawSize: 200 }])[0]];
      });
      assert.equal(second, first);
      const location = catalog.chunks.find(hash)!;
      assert.equal(location.chunkId, first);
      assert.equal(location.offset, 0);
      assert.equal(location.packName, 'pack-a');
      assert.deepEqual({ ...catalog.chunks.known(hash) }, { chunkId: first, rawSize: 200, storedSize: 100, payloadHash: null });
      assert.equal(catalog.chunks.known(sha256('never stored')), undefined);
    });

    await t.test('a backup commits once; only committed backups are listed', () => {
      const catalog = opened.catalog;
      const clientId = catalog.clients.idOf('committer');
      const backup = catalog.backups.create(clientId, 0, 'host', { app: '1.2' }, 1000);
      assert.deepEqual(catalog.backups.committed(clientId), []);
      assert.equal(catalog.backups.running().some((running) => running.id === backup.id), true);
      catalog.backups.commit(backup.id, { ...stats, files: 3, unreadableFiles: 2 }, { app: '1.2' }, 2000);
      assert.throws(() => catalog.backups.commit(backup.id, stats, {}, 3000), CorruptError);
      const committed = catalog.backups.committed(clientId);
      assert.equal(committed.length, 1);
      assert.equal(committed[0].state, 'committed');
      assert.equal(committed[0].files, 3);
      assert.equal(committed[0].unreadableFiles, 2);
      assert.equal(committed[0].finishedAt, 2000);
      assert.deepEqual(committed[0].labels, { app: '1.2' });
      assert.equal(catalog.backups.latestCommitted(clientId)?.id, backup.id);
      catalog.backups.delete(backup.id);
      assert.throws(() => catalog.backups.commit(backup.id, stats, {}, 4000), CorruptError);
    });

    await t.test('the newest committed complete backup is found past later partials and a running complete', () => {
      const catalog = opened.catalog;
      const clientId = catalog.clients.idOf('nightly');
      assert.equal(catalog.backups.latestCommittedComplete(clientId), undefined);
      const complete = catalog.backups.create(clientId, 0, 'host', {}, 1000);
      catalog.backups.commit(complete.id, stats, {}, 1100);
      for (const at of [2000, 3000]) {
        const partial = catalog.backups.create(clientId, 1, 'host', {}, at);
        catalog.backups.commit(partial.id, stats, {}, at + 100);
      }
      catalog.backups.create(clientId, 0, 'host', {}, 4000);
      assert.equal(catalog.backups.latestCommittedComplete(clientId)?.id, complete.id);
    });

    await t.test('references are counted at commit and released at delete; the sweep takes only what nobody holds', () => {
      const catalog = opened.catalog;
      const clientId = catalog.clients.idOf('counted');
      catalog.garbage.sweep(() => nothingHeld); // what earlier subtests left
      const [shared, only, spare] = catalog.transaction(() => {
        const packId = catalog.packs.insert('pack-counted', 1000, Date.now());
        return catalog.chunks.insertRows(packId, ['shared', 'only', 'spare'].map((text, index) => ({ hash: sha256(`counted ${text}`), offset: index * 100, storedSize: 56, rawSize: 56 })));
      });
      const [twice, once] = catalog.transaction(() => [
        catalog.contents.insertRows(sha256('content twice'), 112, [shared, shared]),
        catalog.contents.insertRows(sha256('content once'), 112, [shared, only]),
      ]);
      const first = catalog.backups.create(clientId, 0, 'host', {}, Date.now());
      catalog.entries.insert(first.id, [entry('/x'), entry('/y'), entry('/z')], [twice, twice, once]);
      // Running: nothing counted yet, so only what a session holds keeps it.
      const held = { hasContent: (id: number) => id === twice || id === once, hasChunk: (id: number) => id === spare };
      assert.deepEqual({ ...catalog.garbage.sweep(() => held), touchedPacks: undefined, clientsWithExpiredHolds: undefined }, { deletedContents: 0, deletedChunks: 0, touchedPacks: undefined, clientsWithExpiredHolds: undefined, repairedCounts: [] });
      catalog.backups.commit(first.id, stats, {}, Date.now());
      const second = catalog.backups.create(clientId, 0, 'host', {}, Date.now());
      catalog.entries.insert(second.id, [entry('/x')], [twice]);
      catalog.backups.commit(second.id, stats, {}, Date.now());
      const swept = catalog.garbage.sweep(() => nothingHeld);
      assert.equal(swept.deletedContents, 0);
      assert.equal(swept.deletedChunks, 1, 'the chunk no content lists and no session holds goes');
      assert.equal(catalog.chunks.known(sha256('counted spare')), undefined);
      catalog.backups.delete(first.id);
      assert.equal(catalog.garbage.sweep(() => nothingHeld).deletedContents, 1, '"once" lost its only entry');
      assert.equal(catalog.chunks.known(sha256('counted only')), undefined);
      assert.notEqual(catalog.chunks.known(sha256('counted shared')), undefined);
      catalog.backups.delete(second.id);
      const last = catalog.garbage.sweep(() => nothingHeld);
      assert.equal(last.deletedContents, 1);
      assert.equal(last.deletedChunks, 1);
      assert.deepEqual(catalog.checks.orphans(), [], 'reference counts match their rows');
    });
  });
}

test('a version-1 catalog migrates: text paths become bytes in the same order, references are counted, nothing is lost', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-catalog-v1-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const file = join(folder, 'catalog.db');
  const v1 = new Database(file);
  v1.exec(VERSION_1_SCHEMA);
  v1.exec(`INSERT INTO meta VALUES ('schema_version', '1'), ('chunker', '{"name":"fastcdc","minSize":32768,"avgSize":131072,"maxSize":524288}');
    INSERT INTO clients VALUES (1, 'node1');
    INSERT INTO backups (id, client_id, number, state, started_at, finished_at, files) VALUES (1, 1, 1, 'committed', 1, 2, 2), (2, 1, 2, 'running', 3, NULL, 0);
    INSERT INTO packs VALUES (1, 'pack1', 100, 1, 1);
    INSERT INTO chunks VALUES (1, x'01', 1, 0, 10, 10), (2, x'02', 1, 54, 10, 10);
    INSERT INTO contents VALUES (1, x'aa', 20);
    INSERT INTO content_chunks VALUES (1, 0, 1), (1, 1, 2);`);
  const insert = v1.prepare(`INSERT INTO entries VALUES (?, ?, 1, 420, 0, 0, 1, 0, 1, 0, 1, 1, 20, ?, ?)`);
  insert.run(1, '/data/caf\u00e9', '', 1);
  insert.run(1, '/data/a-b', '', 1);
  insert.run(1, '/data/a/b', 'target \u00e9', null);
  insert.run(2, '/data/caf\u00e9', '', 1);
  v1.close();

  const catalog = new Catalog(file);
  t.after(() => catalog.close());
  assert.equal(catalog.meta.get('schema_version'), String(SCHEMA_VERSION));
  const paths = [...catalog.entries.all(1)].map((stored) => stored.path.toString());
  assert.deepEqual(paths, ['/data/a-b', '/data/a/b', '/data/caf\u00e9']);
  assert.equal(catalog.entries.at(1, Buffer.from('/data/a/b'))?.linkTarget.toString(), 'target \u00e9');
  assert.deepEqual(catalog.checks.orphans(), [], 'reference counts match the version-1 rows (the running backup not counted)');
  assert.equal(catalog.garbage.sweep(() => nothingHeld).deletedContents, 0);
  assert.equal(catalog.backups.byId(1)?.isProtected, false);
});

/** What version 7 added: the entries' inode flags. */
/** What version 8 added: each backup's metadata bytes. */
const WITHOUT_VERSION_8 = 'ALTER TABLE backups DROP COLUMN metadata_bytes;';
const WITHOUT_VERSION_7 = `${WITHOUT_VERSION_8} ALTER TABLE entries DROP COLUMN inode_flags;`;
/** What versions 6 and 7 added: the payload hash, the clients' own copies, their index and triggers; the inode flags. */
const WITHOUT_VERSION_6 = `${WITHOUT_VERSION_7} DROP TRIGGER client_chunks_own_copy_dropped; DROP TRIGGER client_chunks_own_copy_moved; DROP INDEX client_chunks_pack;
  ALTER TABLE client_chunks DROP COLUMN pack_id; ALTER TABLE client_chunks DROP COLUMN offset; ALTER TABLE chunks DROP COLUMN payload_hash;`;

test('a version-2 catalog migrates: committed complete backups take their number as ordinal, later ones count on', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-catalog-v2-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const file = join(folder, 'catalog.db');
  const v2 = new Catalog(file);
  const clientId = v2.clients.idOf('node1');
  for (const kind of [0, 1, 0]) {
    const backup = v2.backups.create(clientId, kind, 'host', {}, 1);
    v2.backups.commit(backup.id, stats, {}, 2);
  }
  v2.close();
  // Back to what version 2 had: no column, version 2 recorded.
  const raw = new Database(file);
  raw.exec(`${WITHOUT_VERSION_6} ALTER TABLE backups DROP COLUMN complete_ordinal; DELETE FROM meta WHERE key LIKE 'last_complete_ordinal.%';
    ALTER TABLE client_chunks DROP COLUMN stored_size; UPDATE meta SET value = '2' WHERE key = 'schema_version'`);
  raw.close();

  const catalog = new Catalog(file);
  t.after(() => catalog.close());
  assert.equal(catalog.meta.get('schema_version'), String(SCHEMA_VERSION));
  assert.deepEqual(catalog.backups.committed(clientId).map((backup) => backup.completeOrdinal), [1, null, 3]);
  const next = catalog.backups.create(clientId, 0, 'host', {}, 3);
  catalog.backups.commit(next.id, stats, {}, 4);
  assert.equal(catalog.backups.byId(next.id)?.completeOrdinal, 4);
});

test('a version-3 catalog migrates: each client\'s committed entries are counted per content, and its knowledge is pruned once more', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-catalog-v3-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const file = join(folder, 'catalog.db');
  const loggedAtCreation: string[] = [];
  const v3 = new Catalog(file, undefined, { info: (line) => loggedAtCreation.push(line), warn: () => undefined, error: () => undefined });
  assert.deepEqual(loggedAtCreation, [], 'a new catalog is no upgrade');
  const [node1, node2] = [v3.clients.idOf('node1'), v3.clients.idOf('node2')];
  const [a, b] = v3.transaction(() => {
    const packId = v3.packs.insert('pack-v3', 1000, 1);
    const [x, y] = v3.chunks.insertRows(packId, ['x', 'y'].map((text, index) => ({ hash: sha256(`v3 ${text}`), offset: index * 100, storedSize: 56, rawSize: 56 })));
    return [v3.contents.insertRows(sha256('v3 a'), 112, [x, y]), v3.contents.insertRows(sha256('v3 b'), 56, [y])];
  });
  for (const [clientId, contents] of [[node1, [a, a, b]], [node1, [a]], [node2, [b]]] as const) {
    const backup = v3.backups.create(clientId, 0, 'host', {}, 1);
    v3.entries.insert(backup.id, contents.map((_, index) => entry(`/f${index}`)), [...contents]);
    v3.backups.commit(backup.id, stats, {}, 2);
  }
  const running = v3.backups.create(node2, 0, 'host', {}, 3);
  v3.entries.insert(running.id, [entry('/r')], [a]);
  v3.close();
  const raw = new Database(file);
  raw.exec(`${WITHOUT_VERSION_6} DROP TABLE client_contents; ALTER TABLE client_chunks DROP COLUMN stored_size; UPDATE meta SET value = '3' WHERE key = 'schema_version';
    INSERT OR REPLACE INTO meta (key, value) VALUES ('client_chunks_pruned', '1')`);
  raw.close();

  const logged: string[] = [];
  const catalog = new Catalog(file, undefined, { info: (line) => logged.push(line), warn: (line) => logged.push(line), error: (line) => logged.push(line) });
  t.after(() => catalog.close());
  assert.equal(catalog.meta.get('schema_version'), String(SCHEMA_VERSION));
  // The operator learns why the first start after the upgrade is slow, before it is, and what it took.
  assert.equal(logged.length, 2, logged.join('\n'));
  assert.match(logged[0], new RegExp(`catalog\\.db: upgrading the catalog from schema 3 to ${SCHEMA_VERSION}; a large catalog takes a while`));
  assert.match(logged[1], new RegExp(`catalog\\.db: catalog upgraded to schema ${SCHEMA_VERSION} in \\d+\\.\\d s$`));
  assert.deepEqual(catalog.checks.orphans(), [], 'the counts match the committed entries (the running backup not counted)');
  const counted = new Database(file, { readonly: true });
  t.after(() => counted.close());
  assert.deepEqual(counted.prepare('SELECT client_id, content_id, refs FROM client_contents ORDER BY 1, 2').raw().all(), [[node1, a, 3], [node1, b, 1], [node2, b, 1]]);
  assert.equal(catalog.meta.get('client_chunks_pruned'), undefined, 'the store prunes clients\' knowledge at its next open');
});

test('a version-4 catalog migrates: each client is charged the chunk\'s stored size for every chunk it holds, shared or not', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-catalog-v4-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const file = join(folder, 'catalog.db');
  const v4 = new Catalog(file);
  const [node1, node2] = [v4.clients.idOf('node1'), v4.clients.idOf('node2')];
  const [shared, own] = [sha256('v4 shared'), sha256('v4 own')];
  v4.transaction(() => {
    const packId = v4.packs.insert('pack-v4', 1000, 1);
    v4.chunks.insertRows(packId, [{ hash: shared, offset: 0, storedSize: 300, rawSize: 900 }, { hash: own, offset: 400, storedSize: 70, rawSize: 70 }]);
  });
  v4.close();
  const raw = new Database(file);
  raw.exec(`${WITHOUT_VERSION_6} ALTER TABLE client_chunks DROP COLUMN stored_size; UPDATE meta SET value = '4' WHERE key = 'schema_version'`);
  const add = raw.prepare(`INSERT INTO client_chunks (client_id, hash) VALUES (?, ?)`);
  for (const [clientId, hash] of [[node1, shared], [node1, own], [node2, shared]] as const) add.run(clientId, hash);
  raw.close();

  const catalog = new Catalog(file);
  t.after(() => catalog.close());
  assert.equal(catalog.meta.get('schema_version'), String(SCHEMA_VERSION));
  // Version 4 charged node1 300 / 2 + 70 and node2 150: the share told each that the other holds the chunk.
  assert.deepEqual(catalog.usage.clientUsage(node1), { bytes: 370, chunks: 2, metadataBytes: 0 });
  assert.deepEqual(catalog.usage.clientUsage(node2), { bytes: 300, chunks: 1, metadataBytes: 0 });
  assert.deepEqual(catalog.usage.sharing(node1, catalog.usage.clientUsage(node1)), { ownBytes: 70, sharedBytes: 300 });
});

test('a version-5 catalog migrates: chunk rows know no payload hash and every client\'s copy is the shared one; own copies added later free their pack when given up', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-catalog-v5-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const file = join(folder, 'catalog.db');
  const v5 = new Catalog(file);
  const node1 = v5.clients.idOf('node1');
  const hash = sha256('v5 chunk');
  v5.transaction(() => {
    const packId = v5.packs.insert('pack-v5', 1000, 1);
    v5.chunks.insertRows(packId, [{ hash, offset: 0, storedSize: 300, rawSize: 900, payloadHash: sha256('payload') }]);
    v5.clientChunks.add(node1, [{ hash, storedSize: 300 }]);
  });
  v5.close();
  const raw = new Database(file);
  raw.exec(`${WITHOUT_VERSION_6} UPDATE meta SET value = '5' WHERE key = 'schema_version'`);
  raw.close();

  const catalog = new Catalog(file);
  t.after(() => catalog.close());
  assert.equal(catalog.meta.get('schema_version'), String(SCHEMA_VERSION));
  assert.equal(catalog.chunks.known(hash)?.payloadHash, null, 'unknown: a client sending these bytes keeps its own copy');
  const node2 = catalog.clients.idOf('node2');
  // node2 sends the bytes encoded otherwise: its copy lies in its own pack.
  const ownPack = catalog.transaction(() => {
    const packId = catalog.packs.insert('pack-own', 500, 2);
    catalog.chunks.insertRows(packId, [{ hash, offset: 0, storedSize: 120, rawSize: 900, payloadHash: sha256('other payload') }]);
    catalog.clientChunks.add(node2, [{ hash, storedSize: 120 }]);
    catalog.clientChunks.placeOwnCopies(node2, packId, [{ hash, offset: 0, storedSize: 120, rawSize: 900, payloadHash: sha256('other payload') }]);
    return packId;
  });
  assert.equal(catalog.chunks.known(hash)?.storedSize, 300, 'the shared copy stays where it was');
  assert.deepEqual(catalog.clientChunks.ownCopiesOf(ownPack).map((own) => [own.clientId, own.offset, own.storedSize]), [[node2, 0, 120]]);
  assert.equal(catalog.packs.usageOf(ownPack)?.liveBytes, 120 + RECORD_HEADER_SIZE, 'the own copy keeps its pack live');
  assert.equal(catalog.transaction(() => catalog.packs.doom(ownPack, 'pack-own', 3)), false, 'a pack holding an own copy is not doomed');
  // node2 gives the chunk up (its last backup went): the pack is one for the next collection, and empty.
  assert.equal(catalog.transaction(() => catalog.clientChunks.forgetAllUnreferenced(node2)), 1);
  assert.ok(catalog.garbage.pendingPacks().includes(ownPack));
  assert.equal(catalog.packs.usageOf(ownPack)?.liveBytes, 0);
});

const VERSION_1_SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE clients (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE backups (id INTEGER PRIMARY KEY, client_id INTEGER NOT NULL REFERENCES clients(id), number INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('running', 'committed')), kind INTEGER NOT NULL DEFAULT 0, hostname TEXT NOT NULL DEFAULT '',
  started_at INTEGER NOT NULL, finished_at INTEGER, files INTEGER NOT NULL DEFAULT 0, logical_bytes INTEGER NOT NULL DEFAULT 0,
  new_bytes INTEGER NOT NULL DEFAULT 0, stored_bytes INTEGER NOT NULL DEFAULT 0, labels TEXT NOT NULL DEFAULT '{}', UNIQUE (client_id, number));
CREATE TABLE packs (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, size INTEGER NOT NULL DEFAULT 0, is_sealed INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);
CREATE TABLE chunks (id INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE, pack_id INTEGER NOT NULL REFERENCES packs(id), offset INTEGER NOT NULL,
  stored_size INTEGER NOT NULL, raw_size INTEGER NOT NULL);
CREATE INDEX chunks_pack ON chunks(pack_id);
CREATE TABLE contents (id INTEGER PRIMARY KEY, hash BLOB NOT NULL, size INTEGER NOT NULL);
CREATE INDEX contents_hash ON contents(hash, size);
CREATE TABLE content_chunks (content_id INTEGER NOT NULL, seq INTEGER NOT NULL, chunk_id INTEGER NOT NULL, PRIMARY KEY (content_id, seq)) WITHOUT ROWID;
CREATE INDEX content_chunks_chunk ON content_chunks(chunk_id);
CREATE TABLE entries (backup_id INTEGER NOT NULL, path TEXT NOT NULL, type INTEGER NOT NULL, mode INTEGER NOT NULL, uid INTEGER NOT NULL,
  gid INTEGER NOT NULL, mtime_sec INTEGER NOT NULL, mtime_nsec INTEGER NOT NULL, ctime_sec INTEGER NOT NULL, ctime_nsec INTEGER NOT NULL,
  inode INTEGER NOT NULL, device INTEGER NOT NULL, size INTEGER NOT NULL, link_target TEXT NOT NULL DEFAULT '', content_id INTEGER,
  PRIMARY KEY (backup_id, path)) WITHOUT ROWID;
`;

test('a version-6 catalog migrates: its entries\' inode flags are unknown (null, not none), and new ones keep theirs', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-catalog-v6-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const file = join(folder, 'catalog.db');
  const v6 = new Catalog(file);
  const clientId = v6.clients.idOf('node1');
  const old = v6.backups.create(clientId, 0, 'host', {}, 1);
  v6.entries.insert(old.id, [entry('/data/old')], [null]);
  v6.backups.commit(old.id, stats, {}, 2);
  v6.close();
  const raw = new Database(file);
  raw.exec(`${WITHOUT_VERSION_7} UPDATE meta SET value = '6' WHERE key = 'schema_version'`);
  raw.close();

  const catalog = new Catalog(file);
  t.after(() => catalog.close());
  assert.equal(catalog.meta.get('schema_version'), String(SCHEMA_VERSION));
  assert.equal(catalog.entries.at(old.id, Buffer.from('/data/old'))?.inodeFlags, null, 'not read: unknown');
  assert.equal([...catalog.entries.unchangedCheck(old.id)][0]?.inodeFlags, null, 'the unchanged check tells the client so');
  const next = catalog.backups.create(clientId, 0, 'host', {}, 3);
  catalog.entries.insert(next.id, [{ ...entry('/data/new'), inodeFlags: 0x30 }], [null]);
  assert.equal(catalog.entries.at(next.id, Buffer.from('/data/new'))?.inodeFlags, 0x30, 'an entry\'s inode flags are stored and read back');
  catalog.entries.insert(next.id, [{ ...entry('/data/none'), inodeFlags: 0 }], [null]);
  assert.equal(catalog.entries.at(next.id, Buffer.from('/data/none'))?.inodeFlags, 0, 'none read: 0, not unknown');
});

// Regression (red team redsec, 2026-12-07): a backup's entries took catalog room its client chose
// (paths, xattrs) that counted against hard_quota only while the backup ran, never after its commit,
// so backup after backup of empty files with long names grew the catalog with the client's usage at 0.
test('a version-7 catalog migrates: each committed backup\'s entry metadata is measured once and counts in its client\'s usage', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-catalog-v7-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const file = join(folder, 'catalog.db');
  const v7 = new Catalog(file);
  const clientId = v7.clients.idOf('node1');
  const old = v7.backups.create(clientId, 0, 'host', {}, 1);
  v7.entries.insert(old.id, [{ ...entry('/data/old'), xattrs: [{ name: Buffer.from('user.pad'), value: Buffer.alloc(1000, 1) }] }], [null]);
  v7.backups.commit(old.id, stats, {}, 2);
  const running = v7.backups.create(clientId, 0, 'host', {}, 3);
  v7.entries.insert(running.id, [entry('/data/running')], [null]);
  v7.close();
  const raw = new Database(file);
  raw.exec(`${WITHOUT_VERSION_8} UPDATE meta SET value = '7' WHERE key = 'schema_version'`);
  raw.close();

  const catalog = new Catalog(file);
  t.after(() => catalog.close());
  assert.equal(catalog.meta.get('schema_version'), String(SCHEMA_VERSION));
  const usage = catalog.usage.clientUsage(clientId);
  // The path (9 bytes), the owner names (4 + 4) and the encoded xattr (its name, value and their lengths).
  assert.ok(usage.metadataBytes >= 9 + 8 + 8 + 1000 && usage.metadataBytes < 9 + 8 + 1100, `metadata ${usage.metadataBytes}`);
  assert.deepEqual(usage, { bytes: usage.metadataBytes, chunks: 0, metadataBytes: usage.metadataBytes }, 'the running backup\'s rows do not count');
  const next = catalog.backups.create(clientId, 0, 'host', {}, 4);
  catalog.entries.insert(next.id, [entry(Buffer.alloc(3000, 0x61))], [null]);
  catalog.backups.commit(next.id, stats, {}, 5);
  assert.equal(catalog.usage.clientUsage(clientId).metadataBytes, usage.metadataBytes + 3000 + 8, 'a commit counts its entries');
  catalog.backups.delete(next.id);
  assert.equal(catalog.usage.clientUsage(clientId).metadataBytes, usage.metadataBytes, 'a deletion takes its metadata out');
});

// Regression (review): the bound a running backup is held to counted an xattr as name + value and an extent as 8
// bytes, the usage after its commit the stored encoding; many short xattrs committed past hard_quota.
test('a backup\'s metadata is measured alike while it runs and in the usage after its commit', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-catalog-metadata-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const catalog = new Catalog(join(folder, 'catalog.db'));
  t.after(() => catalog.close());
  const clientId = catalog.clients.idOf('node1');
  const backup = catalog.backups.create(clientId, 0, 'host', {}, 1);
  const entries = [
    { ...entry('/data/x'), xattrs: Array.from({ length: 40 }, (_, n) => ({ name: Buffer.from(`user.${n}`), value: Buffer.from('v') })) },
    { ...entry('/data/sparse'), extents: [0, 4096, 1 << 20, 300, 2 ** 40, 5] },
    { ...entry('/data/ünïcode'), user: 'jürgen', group: 'grüppe', linkTarget: Buffer.from('../elsewhere') },
    { ...entry('/data/big-xattr'), xattrs: [{ name: Buffer.from('user.big'), value: Buffer.alloc(70_000, 7) }] },
  ];
  catalog.entries.insert(backup.id, entries, entries.map(() => null));
  catalog.backups.commit(backup.id, stats, {}, 2);
  assert.equal(catalog.usage.clientUsage(clientId).metadataBytes, entries.reduce((sum, one) => sum + entryMetadataBytes(one), 0));
});

// Regression (red team redupgrade): schema 2 grew twice without a new number (client_chunks with commit 883b907,
// chunks.is_damaged with 7958b15), so a catalog the first servers at version 2 wrote lacks both. The migration
// assumed them: such a store's first start on a newer server failed with "no such column: is_damaged" and a
// stack, every backup in it out of reach. Now the columns and the clients' knowledge are made as version 1's
// migration makes them.
test('a version-2 catalog as the first servers at version 2 wrote it (no is_damaged, no client_chunks) migrates and knows its clients\' chunks', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-catalog-early-v2-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const file = join(folder, 'catalog.db');
  const early = new Database(file);
  early.exec(EARLY_VERSION_2_SCHEMA);
  early.exec(`INSERT INTO meta VALUES ('schema_version', '2'), ('chunker', '{"name":"fastcdc","minSize":32768,"avgSize":131072,"maxSize":524288}');
    INSERT INTO clients VALUES (1, 'node1'), (2, 'node2');
    INSERT INTO backups (id, client_id, number, state, started_at, finished_at, files) VALUES (1, 1, 1, 'committed', 1, 2, 1), (2, 2, 1, 'committed', 1, 2, 1);
    INSERT INTO packs VALUES (1, 'pack1', 100, 1, 1);
    INSERT INTO chunks VALUES (1, x'01', 1, 0, 10, 10, 1), (2, x'02', 1, 54, 12, 10, 2);
    INSERT INTO contents VALUES (1, x'aa', 20, 1), (2, x'bb', 10, 1);
    INSERT INTO content_chunks VALUES (1, 0, 1), (1, 1, 2), (2, 0, 2);`);
  const insert = early.prepare(`INSERT INTO entries (backup_id, path, type, mode, uid, gid, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec, inode, device, size, content_id)
    VALUES (?, ?, 1, 420, 0, 0, 1, 0, 1, 0, 1, 1, ?, ?)`);
  insert.run(1, Buffer.from('/data/a'), 20, 1);
  insert.run(2, Buffer.from('/data/b'), 10, 2);
  early.close();

  const catalog = new Catalog(file);
  t.after(() => catalog.close());
  assert.equal(catalog.meta.get('schema_version'), String(SCHEMA_VERSION));
  assert.deepEqual(catalog.checks.orphans(), [], 'reference counts match the rows');
  // Each client knows the chunks its backups use (and no other), charged their stored size.
  assert.equal(catalog.clientChunks.known(1, Buffer.from([1]))?.storedSize, 10);
  assert.equal(catalog.clientChunks.known(1, Buffer.from([2]))?.storedSize, 12);
  assert.equal(catalog.clientChunks.known(2, Buffer.from([1])), undefined);
  assert.equal(catalog.usage.clientUsage(1).chunks, 2);
  assert.equal(catalog.usage.clientUsage(2).bytes - catalog.usage.clientUsage(2).metadataBytes, 12);
  assert.equal(catalog.garbage.sweep(() => nothingHeld).deletedChunks, 0);
  // Named by their chunks' hashes, as restores check them: by their bytes' hash every file failed its check.
  assert.deepEqual(catalog.contents.byId(1)?.hash, contentHashOf([Buffer.from([1]), Buffer.from([2])]));
  assert.deepEqual(catalog.contents.byId(2)?.hash, contentHashOf([Buffer.from([2])]));
});

/** SCHEMA_SQL at commit 46771cb, the first at version 2 (comments left out). */
const EARLY_VERSION_2_SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS clients (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS backups (
  id INTEGER PRIMARY KEY,
  client_id INTEGER NOT NULL REFERENCES clients(id),
  number INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('running', 'committed')),
  kind INTEGER NOT NULL DEFAULT 0,
  hostname TEXT NOT NULL DEFAULT '',
  started_at INTEGER NOT NULL,
  finished_at INTEGER,
  files INTEGER NOT NULL DEFAULT 0,
  logical_bytes INTEGER NOT NULL DEFAULT 0,
  new_bytes INTEGER NOT NULL DEFAULT 0,
  stored_bytes INTEGER NOT NULL DEFAULT 0,
  labels TEXT NOT NULL DEFAULT '{}',
  unreadable_files INTEGER NOT NULL DEFAULT 0,
  is_protected INTEGER NOT NULL DEFAULT 0,
  UNIQUE (client_id, number)
);
CREATE TABLE IF NOT EXISTS packs (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL DEFAULT 0,
  is_sealed INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
  id INTEGER PRIMARY KEY,
  hash BLOB NOT NULL UNIQUE,
  pack_id INTEGER NOT NULL REFERENCES packs(id),
  offset INTEGER NOT NULL,
  stored_size INTEGER NOT NULL,
  raw_size INTEGER NOT NULL,
  refs INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS chunks_pack ON chunks(pack_id);
CREATE TABLE IF NOT EXISTS contents (
  id INTEGER PRIMARY KEY,
  hash BLOB NOT NULL,
  size INTEGER NOT NULL,
  refs INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS contents_hash ON contents(hash, size);
CREATE TABLE IF NOT EXISTS content_chunks (
  content_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  chunk_id INTEGER NOT NULL,
  PRIMARY KEY (content_id, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS content_chunks_chunk ON content_chunks(chunk_id);
CREATE TABLE IF NOT EXISTS entries (
  backup_id INTEGER NOT NULL,
  path BLOB NOT NULL,
  type INTEGER NOT NULL,
  mode INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  gid INTEGER NOT NULL,
  mtime_sec INTEGER NOT NULL,
  mtime_nsec INTEGER NOT NULL,
  ctime_sec INTEGER NOT NULL,
  ctime_nsec INTEGER NOT NULL,
  inode INTEGER NOT NULL,
  device INTEGER NOT NULL,
  size INTEGER NOT NULL,
  link_target BLOB NOT NULL DEFAULT x'',
  content_id INTEGER,
  user_name TEXT NOT NULL DEFAULT '',
  group_name TEXT NOT NULL DEFAULT '',
  nlink INTEGER NOT NULL DEFAULT 1,
  rdev INTEGER NOT NULL DEFAULT 0,
  xattrs BLOB,
  extents BLOB,
  PRIMARY KEY (backup_id, path)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS doomed_packs (
  name TEXT PRIMARY KEY,
  doomed_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS chunk_holds (
  chunk_id INTEGER NOT NULL,
  client_id INTEGER NOT NULL,
  backup_id INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (chunk_id, backup_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS chunk_holds_backup ON chunk_holds(backup_id);
CREATE INDEX IF NOT EXISTS contents_unreferenced ON contents(id) WHERE refs = 0;
CREATE INDEX IF NOT EXISTS chunks_unreferenced ON chunks(id) WHERE refs = 0;
`;
