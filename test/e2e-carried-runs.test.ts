// Carried runs: files the parent holds exactly as they are now are not sent one by one; the server
// copies the parent's rows. The next backup must hold the very entries the parent held for them
// (every field), the changed, deleted and new files as they are now, and restore byte for byte; a
// run the parent does not match, or one that repeats a path, refuses the whole backup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { link, mkdir, open, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runBackup } from '../src/client/uploader';
import { runRestore } from '../src/client/restorer';
import { BackupKind, EntryType, type BackupClient, type BatchedEntry, type EntryMeta, type ParentBatch, type UploadRequest } from '../src/proto/cpsbackup';
import type { NodeConfig } from '../src/common/config/node-config';
import { MAX_CARRIED_RUN } from '../src/common/wire/carried-run';
import { startInProcessServer, type InProcessServer } from './support/in-process-server';
import { fileMessages, hostileClient, meta, sendUpload } from './support/hostile-client';
import { snapshotTree, treeDifferences } from './support/trees';
import { pastRacyWindow } from './support/racy-window';
import Database from 'better-sqlite3';

async function entriesOf(client: BackupClient, backupId: number): Promise<Map<string, EntryMeta>> {
  const entries = new Map<string, EntryMeta>();
  for await (const batch of client.parent({ backupId, unchangedCheckOnly: false, marksDamaged: false }) as AsyncIterable<ParentBatch>) {
    for (const entry of batch.entries) entries.set(entry.path.toString('latin1'), entry);
  }
  return entries;
}

/** The unchanged-check listing as a client that marks damaged entries reads it: paths, and those marked. */
async function markedListing(client: BackupClient, marksDamaged: boolean): Promise<{ paths: string[]; damaged: string[] }> {
  const listing = { paths: [] as string[], damaged: [] as string[] };
  for await (const batch of client.parent({ backupId: 0, unchangedCheckOnly: true, marksDamaged }) as AsyncIterable<ParentBatch>) {
    batch.entries.forEach((entry, index) => {
      listing.paths.push(entry.path.toString());
      if (batch.damaged.includes(index)) listing.damaged.push(entry.path.toString());
    });
  }
  return listing;
}

async function writeTree(data: string): Promise<void> {
  // "a.txt" and "a-b.txt" sort before "a/..." by bytes but are walked after it: runs must span both orders.
  await mkdir(join(data, 'a'), { recursive: true });
  for (let index = 0; index < 40; index++) await writeFile(join(data, 'a', `f${String(index).padStart(3, '0')}`), `file ${index}\n`.repeat(index + 1));
  await writeFile(join(data, 'a.txt'), 'beside the folder\n');
  await writeFile(join(data, 'a-b.txt'), 'also beside it\n');
  await mkdir(join(data, 'b', 'c', 'd'), { recursive: true });
  await writeFile(join(data, 'b', 'c', 'd', 'deep.txt'), 'deep\n');
  await writeFile(join(data, 'empty'), '');
  const sparse = await open(join(data, 'sparse'), 'w');
  await sparse.write(Buffer.alloc(4096, 9), 0, 4096, 512 * 1024);
  await sparse.truncate(1024 * 1024);
  await sparse.close();
  await writeFile(join(data, 'linked-1'), 'two names\n');
  await link(join(data, 'linked-1'), join(data, 'linked-2'));
  await symlink('a.txt', join(data, 'to-a'));
}

async function assertRestores(harness: InProcessServer, config: NodeConfig, data: string, backupId: number): Promise<void> {
  const target = join(harness.sandbox.root, `restored-${backupId}`);
  const restored = await runRestore(config, { backupId, to: target });
  assert.deepEqual(restored.failures, []);
  assert.deepEqual(treeDifferences(await snapshotTree(data), await snapshotTree(join(target, data))), [], `backup ${backupId} restores byte for byte`);
  await rm(target, { recursive: true, force: true });
}

test('unchanged files travel as carried runs; the new backup holds the parent\'s very entries for them and restores exactly', async (t) => {
  const harness = await startInProcessServer(['node1']);
  t.after(() => harness.stop());
  const data = join(harness.sandbox.root, 'data');
  await writeTree(data);
  for (const [chunking, edited, deleted] of [['client', 'f010', 'f020'], ['server', 'f011', 'f021']] as const) {
    const config = await harness.nodeConfig('node1', [`include = ${data}`, `chunking = ${chunking}`]);
    const client = hostileClient(join(harness.sandbox.root, 'node1.conf'));
    try {
      await pastRacyWindow();
      const first = await runBackup(config, { kind: BackupKind.BACKUP_KIND_COMPLETE });
      // The first round has no parent; the second round's first backup has the first round's last.
      const firstCarried = first.progress.carriedFiles;
      assert.equal(firstCarried, chunking === 'client' ? 0 : 44, `${chunking}: carried in the first backup`);
      const before = await entriesOf(client, first.summary.backupId);

      await writeFile(join(data, 'a', edited), 'edited\n');
      await rm(join(data, 'a', deleted));
      await writeFile(join(data, 'a', `${deleted}-new`), 'new\n');
      await pastRacyWindow();
      const second = await runBackup(config, { kind: BackupKind.BACKUP_KIND_COMPLETE });
      // 40 + a.txt, a-b.txt, deep.txt, empty, sparse, less the edited and the deleted file; the hard
      // links go as before (an unchanged reference and a link), never in a run.
      assert.equal(second.progress.carriedFiles, 43, `${chunking}: carried files`);
      assert.equal(second.progress.unchangedFiles, 44, `${chunking}: unchanged files`);
      assert.equal(second.summary.files, first.summary.files, `${chunking}: one deleted, one added`);
      const after = await entriesOf(client, second.summary.backupId);
      for (const [path, entry] of before) {
        if (path.endsWith(`/${edited}`) || path.endsWith(`/${deleted}`) || entry.type === EntryType.ENTRY_TYPE_DIRECTORY) continue;
        assert.deepEqual(after.get(path), entry, `${chunking}: ${path} is held as the parent held it`);
      }
      assert.ok(![...after.keys()].some((path) => path.endsWith(`/a/${deleted}`)), 'the deleted file is not carried');
      assert.equal(after.get(Buffer.from(join(data, 'a', edited)).toString('latin1'))?.size, 'edited\n'.length);
      assert.ok(after.has(Buffer.from(join(data, 'a', `${deleted}-new`)).toString('latin1')));
      await assertRestores(harness, config, data, second.summary.backupId);

      const third = await runBackup(config, { kind: BackupKind.BACKUP_KIND_COMPLETE });
      assert.equal(third.progress.carriedFiles, 45, `${chunking}: nothing changed, every one-link file carried`);
      await assertRestores(harness, config, data, third.summary.backupId);
      await writeFile(join(data, 'a', 'f000'), 'the next round starts from a change\n');
    } finally {
      client.close();
    }
  }
});

test('a file whose stored content is damaged splits the runs around it and is sent again, which heals it', async (t) => {
  const harness = await startInProcessServer(['node1']);
  t.after(() => harness.stop());
  const data = join(harness.sandbox.root, 'data');
  await mkdir(data, { recursive: true });
  for (const name of ['a', 'b', 'c', 'd']) await writeFile(join(data, name), `${name} has bytes of its own\n`);
  const config = await harness.nodeConfig('node1', [`include = ${data}`]);
  await pastRacyWindow();
  const first = await runBackup(config, { kind: BackupKind.BACKUP_KIND_COMPLETE });
  const client = hostileClient(join(harness.sandbox.root, 'node1.conf'));
  t.after(() => client.close());
  const damagedFile = join(data, 'b');
  const catalog = new Database(join(harness.sandbox.storeDirectory, 'catalog.db'));
  try {
    const marked = catalog.prepare(
      `UPDATE chunks SET is_damaged = 1 WHERE id IN (SELECT cc.chunk_id FROM entries e JOIN content_chunks cc ON cc.content_id = e.content_id WHERE e.path = ?)`)
      .run(Buffer.from(damagedFile)).changes;
    assert.equal(marked, 1, 'b\'s one chunk marked damaged');
  } finally {
    catalog.close();
  }
  assert.deepEqual(await markedListing(client, true), { paths: ['a', 'b', 'c', 'd'].map((name) => join(data, name)), damaged: [damagedFile] });
  assert.deepEqual(await markedListing(client, false), { paths: ['a', 'c', 'd'].map((name) => join(data, name)), damaged: [] }, 'an older client is not told of it');

  const second = await runBackup(config, { kind: BackupKind.BACKUP_KIND_COMPLETE });
  assert.equal(second.progress.carriedFiles, 3, 'a, c and d carried, in two runs around b');
  assert.equal(second.progress.unchangedFiles, 3, 'b is sent again');
  assert.ok(second.summary.newBytes > 0 || second.progress.sentBytes > 0, 'b\'s bytes crossed the wire');
  const healed = new Database(join(harness.sandbox.storeDirectory, 'catalog.db'), { readonly: true });
  try {
    assert.equal((healed.prepare('SELECT COUNT(*) FROM chunks WHERE is_damaged = 1').pluck().get() as number), 0, 'sending b again healed its chunk');
  } finally {
    healed.close();
  }
  const [held, carried] = [await entriesOf(client, first.summary.backupId), await entriesOf(client, second.summary.backupId)];
  for (const name of ['a', 'c', 'd']) {
    const key = Buffer.from(join(data, name)).toString('latin1');
    assert.deepEqual(carried.get(key), held.get(key), `${name} is held as the parent held it`);
  }
  await assertRestores(harness, config, data, second.summary.backupId);
});

test('a carried run the parent does not match, or that repeats a path, refuses the backup; nothing is listed', async (t) => {
  const harness = await startInProcessServer(['node1']);
  t.after(() => harness.stop());
  const data = join(harness.sandbox.root, 'data');
  await mkdir(data, { recursive: true });
  for (const name of ['a', 'b', 'c', 'd']) await writeFile(join(data, name), name);
  // Two names of one inode after d: a run never copies a file of more than one link.
  await writeFile(join(data, 'e'), 'linked');
  await link(join(data, 'e'), join(data, 'f'));
  const config = await harness.nodeConfig('node1', [`include = ${data}`]);
  const first = await runBackup(config, { kind: BackupKind.BACKUP_KIND_COMPLETE });
  const client = hostileClient(join(harness.sandbox.root, 'node1.conf'));
  t.after(() => client.close());

  const path = (name: string): Buffer => Buffer.from(join(data, name));
  const run = (firstPath: Buffer, lastPath: Buffer, count: number, fields: Partial<BatchedEntry> = {}): BatchedEntry => ({
    meta: undefined, sameAsParent: false, content: Buffer.alloc(0), sha256: Buffer.alloc(0), chunks: [], chunkHashes: Buffer.alloc(0),
    carried: { firstPath, lastPath, count }, ...fields,
  });
  const file = (name: string): BatchedEntry => ({
    meta: meta(path(name), EntryType.ENTRY_TYPE_FILE, { size: 1 }), sameAsParent: false, content: Buffer.from('x'), sha256: Buffer.alloc(0), chunks: [], chunkHashes: Buffer.alloc(0),
  });
  const batch = (entries: BatchedEntry[]): UploadRequest => ({ message: { $case: 'batch', value: { entries } } });
  const beginWith = (parentBackupId: number): UploadRequest => (
    { message: { $case: 'begin', value: { hostname: 'hostile', kind: 0, parentBackupId, labels: {}, clientVersion: 'test', isScheduled: false } } });
  const commit: UploadRequest = { message: { $case: 'commit', value: { warnings: [], unreadableFiles: 0 } } };
  const parent = first.summary.backupId;

  const cases: [string, UploadRequest[], RegExp][] = [
    ['a run without a parent', [beginWith(0), batch([run(path('a'), path('d'), 4)]), commit], /has no parent/],
    ['fewer files than the parent holds there', [beginWith(parent), batch([run(path('a'), path('d'), 3)]), commit], /holds more than 3/],
    ['more files than the parent holds there', [beginWith(parent), batch([run(path('a'), path('d'), 5)]), commit], /holds 4 sound ones/],
    ['a range the parent has nothing in', [beginWith(parent), batch([run(path('x'), path('z'), 1)]), commit], /holds 0 sound ones/],
    ['a run with an entry\'s fields', [beginWith(parent), batch([run(path('a'), path('b'), 2, { sameAsParent: true })]), commit], /carries an entry's fields/],
    ['an empty run', [beginWith(parent), batch([run(path('a'), path('b'), 0)]), commit], /is empty/],
    ['a run backwards', [beginWith(parent), batch([run(path('b'), path('a'), 2)]), commit], /is empty/],
    ['a run longer than a run holds', [beginWith(parent), batch([run(path('a'), path('d'), MAX_CARRIED_RUN + 1)]), commit], /more than a run holds/],
    ['a path sent, then carried', [beginWith(parent), batch([file('b'), run(path('a'), path('d'), 4)]), commit], /sent twice \(once in a carried run\)/],
    ['a path carried, then sent', [beginWith(parent), batch([run(path('a'), path('d'), 4), file('c')]), commit], /sent twice/],
    ['a path carried twice', [beginWith(parent), batch([run(path('a'), path('b'), 2), run(path('b'), path('c'), 2)]), commit], /sent twice/],
    ['a run over files with two links', [beginWith(parent), batch([run(path('d'), path('f'), 3)]), commit], /holds 1 sound ones/],
    ['a run inside a streamed file', [beginWith(parent), ...fileMessages(path('e'), Buffer.from('abc')).slice(0, 2), batch([run(path('a'), path('d'), 4)]), commit], /sent before .* ended/],
    ['a run after a chunk list', [beginWith(parent), { message: { $case: 'chunkList', value: { hashes: Buffer.alloc(32) } } }, batch([run(path('a'), path('d'), 4)]), commit], /after a chunk list/],
  ];
  for (const [what, messages, pattern] of cases) {
    const outcome = await sendUpload(client, messages);
    assert.equal(outcome.error?.code, grpc.status.INVALID_ARGUMENT, `${what}: ${outcome.error?.code} ${outcome.error?.details}`);
    assert.match(outcome.error!.details, pattern, what);
  }
  const accepted = await sendUpload(client, [beginWith(parent), batch([run(path('a'), path('d'), 4)]), commit]);
  assert.equal(accepted.error, undefined, 'the exact run is taken');
  const split = await sendUpload(client, [beginWith(parent), batch([run(path('a'), path('b'), 2), run(path('c'), path('c'), 1)]), batch([run(path('d'), path('d'), 1)]), commit]);
  assert.equal(split.error, undefined, 'several runs, in one batch or more, are taken');
  const listed = harness.server.context.store.listBackups('node1').map((backup) => backup.number);
  assert.equal(listed.length, 3, `only the first backup and the two exact uploads are listed: ${listed.join(', ')}`);
  assert.equal(listed[0], parent);
  const held = await entriesOf(client, parent);
  for (const number of listed.slice(1)) {
    const carried = await entriesOf(client, number);
    for (const name of ['a', 'b', 'c', 'd']) {
      const key = path(name).toString('latin1');
      assert.deepEqual(carried.get(key), held.get(key), `${name} is held in backup ${number} as the parent held it`);
    }
  }
});
