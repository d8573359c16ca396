// makeFolderDurably (LocalBackend's packs/<prefix> and blobs/ folders): every folder that gains an entry is
// fsynced, not only the deepest; none when nothing is created.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeFolderDurably } from '../src/common/make-folder-durably';

// Regression: the first pack of a store created packs/ and packs/<prefix>, and only packs/<prefix> was fsynced:
// on power loss the entries for packs/ (in the store folder) and <prefix> (in packs/) could vanish with the pack.
test('each folder that gains an entry is fsynced, deepest first; an existing folder syncs nothing', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'cpsbackup-durable-folder-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const synced: string[] = [];
  const record = async (path: string): Promise<void> => { synced.push(path); };
  assert.deepEqual(await makeFolderDurably(join(root, 'packs', 'ab'), 0o700, record), [join(root, 'packs'), root]);
  assert.deepEqual(synced, [join(root, 'packs'), root]);
  assert.equal((await stat(join(root, 'packs', 'ab'))).mode & 0o777, 0o700);
  assert.deepEqual(await makeFolderDurably(join(root, 'packs', 'cd'), 0o700, record), [join(root, 'packs')]);
  assert.deepEqual(await makeFolderDurably(join(root, 'packs', 'cd'), 0o700, record), []);
  // With the real fsync too.
  assert.deepEqual(await makeFolderDurably(join(root, 'blobs'), 0o700), [root]);
});
