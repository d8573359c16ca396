// Regression (S3 crash review, also a local store): a store whose catalog is older than its packs (a
// store folder or catalog.db put back from a copy, a disk snapshot rolled back) deleted at its next
// start every pack the catalog did not name, as if a crash had left them: the packs of acknowledged
// newer backups. And it deduplicated new backups against the packs it names that are gone (deleted by
// a gc the old catalog never saw), acknowledging backups that did not restore. Now an object without a
// row is deleted only when this store recorded, before its put, that it might appear (pack_intents), or
// when it predates such records; every other one is kept and named. Packs the catalog names that are
// gone are marked lost at the start, so the next backup holding their bytes stores them again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { backupFiles, bytesOf, openStoreFixture, readBackup } from './support/store-fixture';
import type { ChunkStore } from '../src/chunkstore/store';
import type { Logger } from '../src/common/logger';

async function packNames(directory: string): Promise<Set<string>> {
  const names = new Set<string>();
  for (const folder of await readdir(join(directory, 'packs'))) {
    for (const file of await readdir(join(directory, 'packs', folder))) names.add(file.replace(/\.pack$/, ''));
  }
  return names;
}

function recordingLogger(): Logger & { readonly lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (message: string): void => { lines.push(`${level} ${message}`); };
  return { lines, info: log('info'), warn: log('warn'), error: log('error') };
}

/** Puts catalog.db back as it was when `saved` was taken (the store closed then and now). */
async function putBack(directory: string, saved: string): Promise<void> {
  await Promise.all(['-wal', '-shm'].map((suffix) => rm(join(directory, `catalog.db${suffix}`), { force: true })));
  await copyFile(saved, join(directory, 'catalog.db'));
}

test('a catalog put back from an older copy keeps the packs it does not know and stores again what it knows that is gone', async (t) => {
  const logger = recordingLogger();
  const fixture = await openStoreFixture({ logger });
  t.after(() => fixture.destroy());
  const one = await bytesOf('one', 300_000);
  const two = await bytesOf('two', 300_000);
  await backupFiles(fixture.store, 'node1', { '/one.bin': one });
  await fixture.store.close();
  const saved = join(fixture.directory, '..', `${fixture.directory.split('/').pop()}-old-catalog.db`);
  t.after(() => rm(saved, { force: true }));
  await copyFile(join(fixture.directory, 'catalog.db'), saved);
  const packsOfOne = await packNames(fixture.directory);

  // Newer, acknowledged: backup 2 (two.bin), and backup 1 deleted with its packs.
  let store: ChunkStore = await fixture.reopen();
  await backupFiles(store, 'node1', { '/two.bin': two });
  const [first] = store.listBackups('node1');
  store.deleteBackups([first]);
  await store.collectGarbage({ allPacks: true });
  await store.close();
  const packsNow = await packNames(fixture.directory);
  assert.ok([...packsOfOne].every((name) => !packsNow.has(name)), 'backup 1\'s packs are gone');

  await putBack(fixture.directory, saved);
  store = await fixture.reopen();
  assert.deepEqual(await packNames(fixture.directory), packsNow, 'the newer backup\'s packs are all still there');
  assert.equal(store.recovery.keptUnknownPacks, packsNow.size);
  assert.equal(store.recovery.removedOrphanPacks, 0);
  assert.equal(store.recovery.missingPacks, packsOfOne.size);
  assert.ok(logger.lines.some((line) => /^warn .*in no catalog row and no crash of this store left (it|them)/.test(line)), logger.lines.join('\n'));
  assert.ok(logger.lines.some((line) => /^warn .*packs the catalog names are not in/.test(line)), logger.lines.join('\n'));

  // The old catalog's backup 1 is not restorable (its packs are gone); a new backup of its bytes is.
  const again = await backupFiles(store, 'node1', { '/one.bin': one });
  assert.ok(again.newBytes > 0, 'one.bin is stored again, not deduplicated against a pack that is gone');
  assert.deepEqual((await readBackup(store, again)).get('/one.bin'), one);
});

test('a pack a crash left between its put and its row is deleted at the next start; any unannounced one is kept, however old', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  await backupFiles(fixture.store, 'node1', { '/a.bin': await bytesOf('a', 200_000) });
  const store = fixture.store;
  // The crash, made: the intent recorded as a pack writer records it, then the put, and no row.
  const leftover = 'ab'.repeat(32);
  const staged = join(fixture.directory, 'staging', 'leftover');
  await writeFile(staged, 'a pack whose row was never written');
  (store as unknown as { catalog: { packs: { recordIntent(name: string, at: number): void } } }).catalog.packs.recordIntent(leftover, Date.now());
  await (store as unknown as { bucket: { putPack(name: string, file: string): Promise<void> } }).bucket.putPack(leftover, staged);
  // Unannounced and old: an older cpsbackup's crash leftover, or (review of the first version of this fix,
  // which deleted these by their age) a newer catalog's pack when this catalog is a copy taken before the
  // version that records intents: no time tells the two apart, so it is kept.
  const legacy = 'cd'.repeat(32);
  await writeFile(staged, 'an old pack nobody announced');
  await (store as unknown as { bucket: { putPack(name: string, file: string): Promise<void> } }).bucket.putPack(legacy, staged);
  const past = new Date(Date.now() - 3 * 3600_000);
  await utimes(join(fixture.directory, 'packs', 'cd', `${legacy}.pack`), past, past);
  // And one nobody announced, modified now: kept.
  const unknown = 'ef'.repeat(32);
  await writeFile(staged, 'a pack of a newer catalog');
  await (store as unknown as { bucket: { putPack(name: string, file: string): Promise<void> } }).bucket.putPack(unknown, staged);

  const reopened = await fixture.reopen();
  const names = await packNames(fixture.directory);
  assert.ok(!names.has(leftover), 'the crash leftover is deleted');
  assert.ok(names.has(legacy), 'the old unannounced object is kept');
  assert.ok(names.has(unknown), 'the unannounced object is kept');
  assert.equal(reopened.recovery.removedOrphanPacks, 1);
  assert.equal(reopened.recovery.keptUnknownPacks, 2);
  // Every backup pack written through the store records its intent first: none of them is unknown.
  await backupFiles(reopened, 'node1', { '/b.bin': await bytesOf('b', 200_000) });
  const last = await fixture.reopen();
  assert.equal(last.recovery.keptUnknownPacks, 2, 'only the two unannounced ones');
  assert.equal(last.recovery.missingPacks, 0);
});
