// Regression (security review, finding 1): a folder's owner, xattrs, mode and times were given at the
// end of the restore by name, to whatever had the folder's name then. A user who may write in the
// folder's parent (/srv/app/uploads, www-data's) renamed the folder the restore made and put their own
// script under its name: root made it root:staff, mode 2775. Here the writer is driven entry by entry
// and the folder is swapped before finish(), for a file, a hard link to a file outside the target,
// another folder and a symlink: nothing of what is there changes, and the folder is reported (exit 3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chown, link, lstat, mkdir, mkdtemp, realpath, rename, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntryMeta, EntryType } from '../src/proto/cpsbackup';
import { RestoreTree } from '../src/client/restore-tree/restore-tree';
import { RestoreWriter } from '../src/client/restore-writer';
import type { OverwritePolicy } from '../src/client/overwrite-policy';
import type { RestoreMessageItem } from '../src/client/restore-messages';
import { readXattrs } from '../src/client/posix/xattrs';
import { removeTree } from './support/remove-tree';

const isRoot = process.geteuid?.() === 0;
const BACKUP_MTIME_SEC = 1_500_000_000;
/** As root the backup's folder belongs to someone else (root:staff in the review); the stranger is www-data. */
const FOLDER_OWNER = isRoot ? { uid: 0, gid: 50 } : { uid: process.getuid!(), gid: process.getgid!() };
const STRANGER = isRoot ? { uid: 33, gid: 33 } : { uid: process.getuid!(), gid: process.getgid!() };
const STRANGER_MTIME_SEC = 1_234_567_890;
/** Without root the restoring user (whose folders a restore may give back their times). */
const RESTORING_USER = isRoot ? {} : { restoringUser: { uid: process.getuid!() } };

function folderItem(path: string, mode: number): RestoreMessageItem {
  return {
    meta: EntryMeta.fromPartial({
      path: Buffer.from(path), type: EntryType.ENTRY_TYPE_DIRECTORY, mode: 0o040000 | mode, ...FOLDER_OWNER, mtimeSec: BACKUP_MTIME_SEC, nlink: 2,
      xattrs: [{ name: Buffer.from('user.restored'), value: Buffer.from('folder') }],
    }),
  };
}

function fileItem(path: string, content: string): RestoreMessageItem {
  const bytes = Buffer.from(content);
  return {
    meta: EntryMeta.fromPartial({
      path: Buffer.from(path), type: EntryType.ENTRY_TYPE_FILE, mode: 0o100644, ...FOLDER_OWNER, mtimeSec: BACKUP_MTIME_SEC, nlink: 1, size: bytes.length,
    }),
    inline: { content: bytes, sha256: createHash('sha256').update(bytes).digest() },
  };
}

/** What a stranger's entry must keep: its owner, mode, times and attributes as they were. */
async function fingerprint(path: string): Promise<string> {
  const stats = await lstat(path);
  const xattrs = stats.isSymbolicLink() ? [] : readXattrs({ path }).map((xattr) => xattr.name.toString('latin1'));
  return JSON.stringify({ uid: stats.uid, gid: stats.gid, mode: stats.mode.toString(8), mtime: stats.mtimeMs, ino: stats.ino, xattrs });
}

type Replacement = 'file' | 'hard link' | 'folder' | 'symlink';

/** Puts the stranger's entry at `path` (the restore's folder renamed aside first); returns what must stay as it is. */
async function replace(path: string, how: Replacement, outside: string): Promise<string> {
  await rename(path, `${path}.aside`);
  const victim = join(outside, `victim-${how.replace(' ', '-')}`);
  if (how === 'folder') await mkdir(victim, { mode: 0o755 });
  else await writeFile(victim, '#!/bin/sh\nid\n', { mode: 0o755 });
  await chown(victim, STRANGER.uid, STRANGER.gid);
  await utimes(victim, STRANGER_MTIME_SEC, STRANGER_MTIME_SEC);
  if (how === 'file' || how === 'folder') await rename(victim, path);
  else if (how === 'hard link') await link(victim, path);
  else await symlink(victim, path);
  return how === 'file' || how === 'folder' ? path : victim;
}

async function restoreAndReplace(t: { after(fn: () => void): void }, how: Replacement, items: (target: string) => RestoreMessageItem[],
  replaced: string, options: { overwrite?: OverwritePolicy; prepare?: (target: string) => Promise<void> } = {}): Promise<void> {
  const target = await realpath(await mkdtemp(join(tmpdir(), 'cpsbackup-replaced-folder-')));
  const outside = await realpath(await mkdtemp(join(tmpdir(), 'cpsbackup-replaced-outside-')));
  t.after(() => removeTree(target));
  t.after(() => removeTree(outside));
  await options.prepare?.(target);
  const tree = await RestoreTree.open(target);
  try {
    const writer = new RestoreWriter(tree, { strip: 0, overwrite: options.overwrite ?? 'never', isRoot, ...RESTORING_USER });
    for (const item of items(target)) await writer.write(item);
    // The restore is over but for its folders' metadata: no race to win, the swap just has to be done by now.
    const watched = await replace(join(target, replaced), how, outside);
    const before = await fingerprint(watched);
    writer.finish();
    assert.equal(await fingerprint(watched), before, `the ${how} put at ${replaced} was changed`);
    assert.ok(writer.outcome.failures.some((failure) => failure.startsWith(`${join(target, replaced)}: its owner, mode, attributes and times not set: the folder was replaced during the restore`)),
      `no failure names ${replaced}: ${JSON.stringify(writer.outcome.failures)}`);
  } finally {
    tree.close();
  }
}

for (const how of ['file', 'hard link', 'folder', 'symlink'] as const) {
  test(`a folder the restore made, replaced by a ${how} before its metadata is given: nothing there is touched, the folder is reported`, async (t) => {
    await restoreAndReplace(t, how, () => [folderItem('/uploads', 0o755), folderItem('/uploads/shared', 0o2775), fileItem('/uploads/shared/big.bin', 'data\n')],
      'uploads/shared');
  });
}

test('a folder already there whose attributes --overwrite replaces, replaced by a hard link meanwhile: nothing is touched', async (t) => {
  await restoreAndReplace(t, 'hard link', () => [folderItem('/shared', 0o2775), fileItem('/shared/new', 'new\n')], 'shared', {
    overwrite: 'always',
    prepare: async (target) => {
      await mkdir(join(target, 'shared'), { mode: 0o700 });
    },
  });
});

test('a folder already there whose times the restore gives back once written into, replaced by a hard link meanwhile: its times are not given to it', async (t) => {
  await restoreAndReplace(t, 'hard link', () => [folderItem('/kept', 0o755), fileItem('/kept/new', 'new\n')], 'kept', {
    prepare: async (target) => {
      // The backup's folder but for its mtime (and attributes, which a folder kept as it is keeps): times given back at the end.
      await mkdir(join(target, 'kept'), { mode: 0o755 });
      await chown(join(target, 'kept'), FOLDER_OWNER.uid, FOLDER_OWNER.gid);
      const { setXattr } = await import('../src/client/posix/xattrs');
      setXattr({ path: join(target, 'kept') }, 'user.restored', Buffer.from('folder'));
      await utimes(join(target, 'kept'), BACKUP_MTIME_SEC + 100, BACKUP_MTIME_SEC + 100);
    },
  });
});

test('a folder left in place gets all of its metadata through its fd, the same as before', async (t) => {
  const target = await realpath(await mkdtemp(join(tmpdir(), 'cpsbackup-replaced-folder-')));
  t.after(() => removeTree(target));
  const tree = await RestoreTree.open(target);
  try {
    const writer = new RestoreWriter(tree, { strip: 0, overwrite: 'never', isRoot });
    for (const item of [folderItem('/shared', 0o2775), fileItem('/shared/file', 'x\n')]) await writer.write(item);
    writer.finish();
    assert.deepEqual(writer.outcome.failures, []);
    const stats = await lstat(join(target, 'shared'));
    assert.equal(stats.mode & 0o7777, 0o2775);
    assert.equal(stats.mtimeMs, BACKUP_MTIME_SEC * 1000);
    assert.deepEqual([stats.uid, stats.gid], [FOLDER_OWNER.uid, FOLDER_OWNER.gid]);
    assert.deepEqual(readXattrs({ path: join(target, 'shared') }).map((xattr) => xattr.value.toString()), ['folder']);
  } finally {
    tree.close();
  }
});
