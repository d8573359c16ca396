// Regression (security review, finding 2): a hard link's first name was checked by name (fstatat) and
// then linked by name (linkat), and the inode it had to hold was recorded by a stat by name after the
// file's rename; a user who may write in the first name's folder, exchanging two names there all the
// time, made the second name (in a root-only folder) a link to their own file (2 runs in 6). The swaps
// are made deterministic by hooking the addon: right after the first file takes its name (a link of the
// file made without a name, or a rename of a temporary name), and right before the link is made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, linkSync, renameSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, realpath, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntryMeta, EntryType } from '../src/proto/cpsbackup';
import { RestoreTree } from '../src/client/restore-tree/restore-tree';
import { RestoreWriter } from '../src/client/restore-writer';
import type { RestoreMessageItem } from '../src/client/restore-messages';
import { posixAddon } from '../src/client/posix/addon';
import { removeTree } from './support/remove-tree';

const isRoot = process.geteuid?.() === 0;
const CONTENT = 'echo GOOD\n';

function items(): RestoreMessageItem[] {
  const owner = { uid: process.getuid!(), gid: process.getgid!(), mtimeSec: 1_500_000_000 };
  const folder = (path: string): RestoreMessageItem => ({ meta: EntryMeta.fromPartial({ path: Buffer.from(path), type: EntryType.ENTRY_TYPE_DIRECTORY, mode: 0o040755, nlink: 2, ...owner }) });
  const bytes = Buffer.from(CONTENT);
  return [
    folder('/uploads'),
    {
      meta: EntryMeta.fromPartial({ path: Buffer.from('/uploads/f1'), type: EntryType.ENTRY_TYPE_FILE, mode: 0o100755, nlink: 2, size: bytes.length, ...owner }),
      inline: { content: bytes, sha256: createHash('sha256').update(bytes).digest() },
    },
    folder('/z-bin'),
    { meta: EntryMeta.fromPartial({ path: Buffer.from('/z-bin/f1'), type: EntryType.ENTRY_TYPE_FILE, mode: 0o100755, nlink: 2, size: bytes.length, hardlinkTarget: Buffer.from('/uploads/f1'), ...owner }) },
  ];
}

/** Wraps the addon's `method` (restored when the test ends). */
function hook(t: { after(fn: () => void): void }, method: 'renameat' | 'linkat', wrapper: (original: (...args: unknown[]) => void, args: unknown[]) => void): void {
  const addon = posixAddon() as unknown as Record<string, unknown>;
  const original = (addon[method] as (...args: unknown[]) => void).bind(addon);
  t.after(() => { addon[method] = original; });
  addon[method] = (...args: unknown[]): void => wrapper(original, args);
}

/** The stranger's move: the restore's first name renamed aside, a link to their own file under its name. */
function swapIn(target: string, evil: string): void {
  renameSync(join(target, 'uploads', 'f1'), join(target, 'uploads', 'f1.aside'));
  linkSync(evil, join(target, 'uploads', 'f1'));
}

async function restore(t: { after(fn: () => void): void }, hookSwap: (target: string, evil: string) => void): Promise<{ target: string; evil: string; writer: RestoreWriter }> {
  const target = await realpath(await mkdtemp(join(tmpdir(), 'cpsbackup-link-swapped-')));
  const outside = await realpath(await mkdtemp(join(tmpdir(), 'cpsbackup-link-outside-')));
  t.after(() => removeTree(target));
  t.after(() => removeTree(outside));
  const evil = join(outside, 'evil');
  await writeFile(evil, 'echo EVIL\n', { mode: 0o755 });
  const tree = await RestoreTree.open(target);
  try {
    hookSwap(target, evil);
    const writer = new RestoreWriter(tree, { strip: 0, overwrite: 'never', isRoot });
    for (const item of items()) await writer.write(item);
    writer.finish();
    return { target, evil, writer };
  } finally {
    tree.close();
  }
}

test('a first name swapped just after the file took it: the link is refused, never made to the stranger\'s file', async (t) => {
  let isSwapped = false;
  const { target, evil, writer } = await restore(t, (root, evilPath) => {
    const swapOnceNamed = (original: (...args: unknown[]) => void, args: unknown[]): void => {
      original(...args);
      if (!isSwapped && existsSync(join(root, 'uploads', 'f1'))) {
        isSwapped = true;
        swapIn(root, evilPath);
      }
    };
    hook(t, 'renameat', swapOnceNamed);
    hook(t, 'linkat', swapOnceNamed);
  });
  assert.ok(isSwapped);
  const evilIno = (await lstat(evil)).ino;
  const linked = await lstat(join(target, 'z-bin', 'f1')).catch(() => undefined);
  assert.notEqual(linked?.ino, evilIno, 'z-bin/f1 is a link to the stranger\'s file');
  assert.equal(linked, undefined);
  assert.ok(writer.outcome.failures.some((failure) => failure.startsWith(`${join(target, 'z-bin', 'f1')}: not restored: it is a hard link to /uploads/f1`)),
    JSON.stringify(writer.outcome.failures));
});

test('a first name swapped between its check and the link: the link is made to the restored file, never to the stranger\'s', async (t) => {
  let isSwapped = false;
  const { target, evil, writer } = await restore(t, (root, evilPath) => hook(t, 'linkat', (original, args) => {
    // The link, not the first file's own naming (a link too when it was made without a name).
    if (!isSwapped && existsSync(join(root, 'uploads', 'f1'))) {
      isSwapped = true;
      swapIn(root, evilPath);
    }
    original(...args);
  }));
  assert.ok(isSwapped);
  const linked = await lstat(join(target, 'z-bin', 'f1'));
  assert.notEqual(linked.ino, (await lstat(evil)).ino, 'z-bin/f1 is a link to the stranger\'s file');
  assert.equal(linked.ino, (await lstat(join(target, 'uploads', 'f1.aside'))).ino);
  assert.equal(await readFile(join(target, 'z-bin', 'f1'), 'utf8'), CONTENT);
  assert.deepEqual(writer.outcome.failures, []);
});

// Regression (review of the fix above): a first name found identical and kept was opened by name after
// its stat, and the inode recorded for its links was the one opened: a user swapping in a file of theirs
// with the same content between the stat and the open had the kept "identical" file be theirs, and the
// second name in the root-only folder was linked to it.
test('a first name found identical, swapped between its stat and its open: never taken for the kept file, never linked to', async (t) => {
  const target = await realpath(await mkdtemp(join(tmpdir(), 'cpsbackup-link-kept-')));
  const outside = await realpath(await mkdtemp(join(tmpdir(), 'cpsbackup-link-outside-')));
  t.after(() => removeTree(target));
  t.after(() => removeTree(outside));
  // What is there already: the backup's /uploads/f1, identical; the stranger's file of the same content.
  await mkdir(join(target, 'uploads'));
  await writeFile(join(target, 'uploads', 'f1'), CONTENT, { mode: 0o755 });
  await utimes(join(target, 'uploads', 'f1'), 1_500_000_000, 1_500_000_000);
  const evil = join(outside, 'evil');
  await writeFile(evil, CONTENT, { mode: 0o755 });
  const { O_NONBLOCK } = posixAddon().constants;
  let isSwapped = false;
  const addon = posixAddon() as unknown as Record<string, unknown>;
  const original = (addon.openat as (...args: unknown[]) => number).bind(addon);
  t.after(() => { addon.openat = original; });
  addon.openat = (...args: unknown[]): number => {
    // The compare's open of the existing file (the only one made non-blocking): the stranger's move first.
    if (!isSwapped && Buffer.from(args[1] as Buffer).toString() === 'f1' && ((args[2] as number) & O_NONBLOCK) !== 0) {
      isSwapped = true;
      swapIn(target, evil);
    }
    return original(...args);
  };
  const tree = await RestoreTree.open(target);
  let writer: RestoreWriter;
  try {
    writer = new RestoreWriter(tree, { strip: 0, overwrite: 'never', isRoot });
    for (const item of items()) await writer.write(item);
    writer.finish();
  } finally {
    tree.close();
  }
  assert.ok(isSwapped);
  const linked = await lstat(join(target, 'z-bin', 'f1')).catch(() => undefined);
  assert.notEqual(linked?.ino, (await lstat(evil)).ino, 'z-bin/f1 is a link to the stranger\'s file');
  assert.ok(writer.outcome.failures.length + writer.outcome.keptExisting.length > 0, 'the swapped name is reported');
});
