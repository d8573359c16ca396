// DurableFolders (LocalBackend's packs/<prefix> and blobs/ folders): on a folder's first use in a process,
// every folder above it up to the store's is fsynced, made now or found; not again after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DurableFolders } from '../src/common/make-folder-durably';

// Regression: the first pack of a store created packs/ and packs/<prefix>, and only packs/<prefix> was fsynced:
// on power loss the entries for packs/ (in the store folder) and <prefix> (in packs/) could vanish with the pack.
test('each folder above a new one is fsynced, deepest first, once per process', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'cpsbackup-durable-folder-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const synced: string[] = [];
  const folders = new DurableFolders(root, 0o700, async (path) => { synced.push(path); });
  await folders.make(join(root, 'packs', 'ab'));
  assert.deepEqual(synced.splice(0), [join(root, 'packs'), root]);
  assert.equal((await stat(join(root, 'packs', 'ab'))).mode & 0o777, 0o700);
  await folders.make(join(root, 'packs', 'ab'));
  assert.deepEqual(synced, [], 'a folder used before in this process syncs nothing');
  // With the real fsync too.
  await new DurableFolders(root, 0o700).make(join(root, 'blobs'));
});

// Regression (crash review): a process killed after its mkdir of packs/<prefix> and before the fsync of
// packs/ left the folder; the next process found it, created nothing and fsynced nothing, and its packs
// there were acknowledged with the prefix's name in packs/ never made durable.
test('a folder found made (by a process killed before its fsync) is fsynced up to the root at its first use', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'cpsbackup-durable-folder-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, 'packs', 'cd'), { recursive: true });
  const synced: string[] = [];
  await new DurableFolders(root, 0o700, async (path) => { synced.push(path); }).make(join(root, 'packs', 'cd'));
  assert.deepEqual(synced, [join(root, 'packs'), root]);
});
