// Proves RestoreTree.makeHardLink with firstName links only to the inode noteRestored recorded for the
// first name: a file put at that path since (by another entry, or by another process) is refused with
// LinkTargetChangedError naming both paths, and nothing is linked (regression: a link to a foreign file).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rename, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LinkTargetChangedError } from '../src/client/restore-tree/errors';
import { strippedPath } from '../src/client/strip-path';
import { RestoreTree } from '../src/client/restore-tree/restore-tree';
import { EntryMeta, EntryType } from '../src/proto/cpsbackup';
import { removeTree } from './support/remove-tree';

const fileEntry = (path: string, nlink: number): EntryMeta => EntryMeta.fromPartial({ path: Buffer.from(path), type: EntryType.ENTRY_TYPE_FILE, nlink });

test('a hard link is made only while the first name holds what this restore left there', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'cpsbackup-link-targets-'));
  t.after(() => removeTree(root));
  const tree = await RestoreTree.open(root);
  t.after(() => tree.close());
  await writeFile(join(root, 'first'), 'LINKED\n');
  tree.noteRestored(fileEntry('/backup/first', 2), Buffer.from('/first'));

  tree.makeHardLink('/first', '/second', { firstName: Buffer.from('/backup/first') });
  assert.equal((await stat(join(root, 'second'))).ino, (await stat(join(root, 'first'))).ino);

  // Something else now sits at the first name's path.
  await writeFile(join(root, 'foreign'), 'OTHER\n');
  await rename(join(root, 'foreign'), join(root, 'first'));
  assert.throws(() => tree.makeHardLink('/first', '/third', { firstName: Buffer.from('/backup/first') }),
    (error: Error) => error instanceof LinkTargetChangedError && error.message.includes(`${join(root, 'third')}: not restored: it is a hard link to /backup/first, but ${join(root, 'first')} no longer holds`));
  assert.deepEqual((await readdir(root)).sort(), ['first', 'second']);

  // Single-link entries are not remembered (a large restore keeps nothing for them); without firstName, as before.
  tree.noteRestored(fileEntry('/backup/single', 1), Buffer.from('/first'));
  tree.makeHardLink('/first', '/fourth');
  assert.equal((await stat(join(root, 'fourth'))).ino, (await stat(join(root, 'first'))).ino);
});

test('strippedPath drops leading components as --strip does', () => {
  assert.deepEqual(strippedPath(Buffer.from('/a/b/c'), 0), Buffer.from('/a/b/c'));
  assert.deepEqual(strippedPath(Buffer.from('/a/b/c'), 2), Buffer.from('/c'));
  // The folder at the cut is the target itself; above it, nothing.
  assert.deepEqual(strippedPath(Buffer.from('/a/b'), 2), Buffer.from('/'));
  assert.deepEqual(strippedPath(Buffer.from('/a'), 1), Buffer.from('/'));
  assert.equal(strippedPath(Buffer.from('/a'), 2), undefined);
  assert.equal(strippedPath(Buffer.from('/'), 1), undefined);
  assert.deepEqual(strippedPath(Buffer.from('/a/b/c/d'), 3), Buffer.from('/d'));
  assert.deepEqual(strippedPath(Buffer.from('/'), 0), Buffer.from('/'));
});

test('a first name whose path cannot be looked at once restored is noted as such: no link is made to whatever is there later', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'cpsbackup-link-targets-'));
  t.after(() => removeTree(root));
  const tree = await RestoreTree.open(root);
  t.after(() => tree.close());
  await mkdir(join(root, 'sub'));
  await writeFile(join(root, 'sub', 'first'), 'LINKED\n');
  // The folder is swapped for a symlink just after the first name was written: noted, not thrown.
  await rename(join(root, 'sub'), join(root, 'moved'));
  await symlink(join(root, 'moved'), join(root, 'sub'));
  tree.noteRestored(fileEntry('/backup/sub/first', 2), Buffer.from('/sub/first'));
  // The folder is back, holding a file at the first name's path: not the one this restore wrote there.
  await unlink(join(root, 'sub'));
  await mkdir(join(root, 'sub'));
  await writeFile(join(root, 'sub', 'first'), 'OTHER\n');
  assert.throws(() => tree.makeHardLink('/sub/first', '/second', { firstName: Buffer.from('/backup/sub/first') }),
    (error: Error) => error instanceof LinkTargetChangedError);
  await assert.rejects(stat(join(root, 'second')), { code: 'ENOENT' });
});
