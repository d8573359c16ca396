// Regression (review of pack intents): an offline `cpsbackup-server gc` deleted every pack the catalog did
// not name, silently, where every start keeps and names the ones no crash of this store left: a cron gc on a
// store whose catalog was put back from an older copy deleted the newer catalog's packs, the only copy of its
// backups, before anyone could `recover` it. Now no path deletes them (start, gc beside backups and gc --all,
// compaction, check and --repair) unless `gc --delete-unknown-packs` asks; `gc` names them and what to do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { backupFiles, bytesOf, openStoreFixture, SMALL_CHUNKS } from './support/store-fixture';
import { ChunkStore } from '../src/chunkstore/store';
import { Sandbox } from './support/sandbox';
import { exists } from './support/temp-folder';
import { loadServerConfig } from '../src/common/config/server-config';
import { openConfiguredStore } from '../src/server/open-store';

/** A pack nobody announced (no pack_intents row), as a newer catalog's pack looks to an older catalog. */
const UNKNOWN = 'ef'.repeat(16);
const UNKNOWN_BYTES = 12_345;

function unknownPackFile(directory: string): string {
  return join(directory, 'packs', UNKNOWN.slice(0, 2), `${UNKNOWN}.pack`);
}

async function putUnknownPack(directory: string): Promise<void> {
  await mkdir(join(directory, 'packs', UNKNOWN.slice(0, 2)), { recursive: true });
  await writeFile(unknownPackFile(directory), Buffer.alloc(UNKNOWN_BYTES, 7));
}

test('gc beside backups, gc of every pack, compaction, check and repair leave an unknown pack; only deleteUnknownPacks deletes it', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  const kept = await bytesOf('kept', 100_000);
  // One pack, four fifths of it dead once the first backup goes: compacted by the gc below.
  await backupFiles(fixture.store, 'node1', { '/kept.bin': kept, '/dropped.bin': await bytesOf('dropped', 400_000) });
  await backupFiles(fixture.store, 'node1', { '/kept.bin': kept });
  await putUnknownPack(fixture.directory);
  let store = await fixture.reopen();
  assert.equal(store.recovery.keptUnknownPacks, 1);
  assert.deepEqual(store.recovery.keptPacks, { count: 1, bytes: UNKNOWN_BYTES, sampleNames: [UNKNOWN], isSinceRecover: false });

  store.deleteBackups([store.listBackups('node1')[0]]);
  const beside = await store.collectGarbage();
  const all = await store.collectGarbage({ allPacks: true });
  assert.equal(beside.rewrittenPacks + all.rewrittenPacks, 1, 'the sparse pack was compacted');
  assert.ok(await exists(unknownPackFile(fixture.directory)), 'gc and compaction leave it');
  const report = await store.check({ readDataPercent: 100 });
  assert.ok(report.problems.some((problem) => problem.includes(`pack ${UNKNOWN} `)), report.problems.join('\n'));
  await store.repair();
  await store.forgetStaleKnowledge();
  assert.ok(await exists(unknownPackFile(fixture.directory)), 'check and repair leave it');

  store = await fixture.reopen();
  assert.equal(store.recovery.keptUnknownPacks, 1, 'a second start keeps it too');
  await store.close();
  fixture.store = await ChunkStore.open(fixture.directory, { chunker: SMALL_CHUNKS, compressionLevel: 3, encoderThreads: 0, deleteUnknownPacks: true });
  assert.equal(fixture.store.recovery.removedUnknownPacks, 1);
  assert.equal(fixture.store.recovery.keptPacks.count, 0);
  assert.equal(await exists(unknownPackFile(fixture.directory)), false, 'deleted when asked');
});

test('cpsbackup-server gc keeps an unknown pack and names it with what to do; gc --delete-unknown-packs deletes it', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const store = await openConfiguredStore(loadServerConfig(sandbox.serverConfigFile), { encoderThreads: 0 });
  await backupFiles(store, 'node1', { '/a.bin': await bytesOf('a', 50_000) });
  await store.close();
  await putUnknownPack(sandbox.storeDirectory);

  const collected = await sandbox.runServerCommand(['gc']);
  assert.equal(collected.code, 0, collected.stdout + collected.stderr);
  assert.ok(await exists(unknownPackFile(sandbox.storeDirectory)), `gc kept it: ${collected.stdout}`);
  const named = collected.stdout.split('\n').find((line) => line.startsWith('gc: 1 pack '));
  assert.ok(named !== undefined, collected.stdout);
  assert.ok(named.includes(`1 pack (${UNKNOWN_BYTES} bytes) in ${sandbox.storeDirectory} is in no catalog row`), named);
  assert.ok(named.includes(`(${UNKNOWN})`), named);
  assert.match(named, /`cpsbackup-server recover`/);
  assert.match(named, /`cpsbackup-server gc --delete-unknown-packs` deletes it/);
  assert.match(collected.stdout, /^gc: deleted 0 contents, 0 chunks, 0 packs; rewrote 0 packs; freed 0 bytes$/m, 'the report line as before');

  const deleted = await sandbox.runServerCommand(['gc', '--delete-unknown-packs']);
  assert.equal(deleted.code, 0, deleted.stdout + deleted.stderr);
  assert.match(deleted.stdout, /^gc: deleted 1 packs the catalog does not name \(--delete-unknown-packs\)$/m);
  assert.equal(await exists(unknownPackFile(sandbox.storeDirectory)), false);
  const help = await sandbox.runServerCommand(['gc', '--help']);
  assert.match(help.stdout, /--delete-unknown-packs/);
});
