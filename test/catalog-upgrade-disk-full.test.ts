// Regression (red team redupgrade): the first start of a new version on an older store whose disk was full
// failed with SQLite's bare "database or disk is full" (or "disk I/O error" when not even the shared-memory
// file fitted) and a stack trace, while the store's own space reserve, kept for exactly this, stayed on the
// disk. Now the reserve is given up before the catalog opens, so the upgrade (and the start) goes through;
// with no reserve left, one line says the store is full and that the catalog was not changed, and a start
// once space returns upgrades it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, rmdir, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ChunkStore } from '../src/chunkstore/store';
import { SCHEMA_VERSION } from '../src/chunkstore/catalog/schema';
import { DiskFullError } from '../src/common/errors';
import { fillLeaving, mountTmpfs, tmpfsRefusal, unmountTmpfs } from './support/tmpfs';
import { SMALL_CHUNKS } from './support/store-fixture';

const refusal = tmpfsRefusal();
const OPTIONS = { chunker: SMALL_CHUNKS, compressionLevel: 3, encoderThreads: 0 };

/** A store on its own small tmpfs, its catalog put back to the schema before this one's (what an older server left). */
async function olderStoreOnTmpfs(t: { after(fn: () => Promise<void>): void }): Promise<{ directory: string; ballast: string }> {
  const mount = await mkdtemp(join(tmpdir(), 'cpsbackup-upgrade-full-'));
  mountTmpfs(mount, '16m');
  t.after(async () => {
    unmountTmpfs(mount);
    await rmdir(mount);
  });
  const directory = join(mount, 'store');
  const store = await ChunkStore.open(directory, OPTIONS);
  await store.close();
  const connection = new Database(join(directory, 'catalog.db'));
  // Version 9 added damaged_contents and its trigger only (schema.ts).
  connection.exec(`DROP TRIGGER damaged_content_dropped; DROP TABLE damaged_contents;
    UPDATE meta SET value = '${SCHEMA_VERSION - 1}' WHERE key = 'schema_version'`);
  connection.pragma('wal_checkpoint(TRUNCATE)');
  connection.close();
  return { directory, ballast: join(mount, 'ballast') };
}

function schemaOf(directory: string): string {
  const connection = new Database(join(directory, 'catalog.db'), { readonly: true });
  try {
    return connection.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).pluck().get() as string;
  } finally {
    connection.close();
  }
}

test('an older store on a full disk: the reserve is given up and the catalog is upgraded', { skip: refusal ?? false }, async (t) => {
  const { directory, ballast } = await olderStoreOnTmpfs(t);
  assert.ok(existsSync(join(directory, 'reserve')), 'the store keeps a space reserve');
  await fillLeaving(ballast, 0);
  const warnings: string[] = [];
  const logger = { debug: () => undefined, info: () => undefined, warn: (message: string) => warnings.push(message), error: () => undefined };
  const store = await ChunkStore.open(directory, { ...OPTIONS, logger: logger as never });
  await store.close();
  assert.equal(schemaOf(directory), String(SCHEMA_VERSION));
  assert.match(warnings.join('\n'), /disk is full: gave up the space reserve to open the catalog/);
});

test('an older store on a full disk without a reserve: one clear "store is full", the catalog unchanged, upgraded once space returns',
  { skip: refusal ?? false }, async (t) => {
    const { directory, ballast } = await olderStoreOnTmpfs(t);
    await unlink(join(directory, 'reserve'));
    await fillLeaving(ballast, 0);
    await assert.rejects(ChunkStore.open(directory, OPTIONS), (error: Error) => {
      assert.ok(error instanceof DiskFullError, `${error.constructor.name}: ${error.message}`);
      // With no byte free even SQLite's shared-memory file fails, before the schema is read: the message is the general one.
      assert.match(error.message, /^store is full: cannot open the catalog .*catalog\.db .*nothing in it was changed: free space on its disk and start again$/);
      return true;
    });
    // Read once there is room again: SQLite cannot even read a catalog in WAL mode on a disk without a free byte.
    await rm(ballast);
    assert.equal(schemaOf(directory), String(SCHEMA_VERSION - 1));
    const store = await ChunkStore.open(directory, OPTIONS);
    await store.close();
    assert.equal(schemaOf(directory), String(SCHEMA_VERSION));
  });
