// Regression (security review, finding 1, the same class for symlinks and special files): a symlink's or
// a FIFO's or socket's metadata was set by name just after it was made; a user who may write in its
// folder who swapped a hard link to their own file in between had it given the entry's owner, mode and
// times. The swap is made deterministic by hooking the addon's symlinkat/mknodat: right after the entry
// is made, it is renamed aside and a hard link to a file outside the target takes its name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chown, lstat, mkdtemp, realpath, utimes, writeFile } from 'node:fs/promises';
import { renameSync, linkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntryMeta, EntryType } from '../src/proto/cpsbackup';
import { RestoreTree } from '../src/client/restore-tree/restore-tree';
import { RestoreWriter } from '../src/client/restore-writer';
import { posixAddon, type PosixAddon } from '../src/client/posix/addon';
import { removeTree } from './support/remove-tree';

const isRoot = process.geteuid?.() === 0;
const BACKUP_MTIME_SEC = 1_500_000_000;
const ENTRY_OWNER = isRoot ? { uid: 0, gid: 50 } : { uid: process.getuid!(), gid: process.getgid!() };
const STRANGER = isRoot ? { uid: 33, gid: 33 } : { uid: process.getuid!(), gid: process.getgid!() };

/** Runs `after(name)` right after each call of the addon's `method` (restored when the test ends). */
function hookAfter(t: { after(fn: () => void): void }, method: 'symlinkat' | 'mknodat', after: (dirfd: number, name: Buffer) => void): void {
  const addon = posixAddon() as { -readonly [K in keyof PosixAddon]: PosixAddon[K] };
  const original = addon[method] as (...args: unknown[]) => void;
  t.after(() => { (addon as Record<string, unknown>)[method] = original; });
  (addon as Record<string, unknown>)[method] = (...args: unknown[]): void => {
    original.apply(addon, args);
    const [dirfd, name] = method === 'symlinkat' ? [args[1], args[2]] : [args[0], args[1]];
    after(dirfd as number, Buffer.from(name as Buffer | string));
  };
}

async function stranger(outside: string): Promise<string> {
  const victim = join(outside, 'victim');
  await writeFile(victim, '#!/bin/sh\nid\n', { mode: 0o600 });
  await chown(victim, STRANGER.uid, STRANGER.gid);
  await utimes(victim, 1_234_567_890, 1_234_567_890);
  return victim;
}

async function fingerprint(path: string): Promise<string> {
  const stats = await lstat(path);
  return JSON.stringify({ uid: stats.uid, gid: stats.gid, mode: stats.mode.toString(8), mtime: stats.mtimeMs });
}

const cases = [
  { kind: 'symlink', method: 'symlinkat', meta: { type: EntryType.ENTRY_TYPE_SYMLINK, mode: 0o120777, linkTarget: Buffer.from('somewhere') } },
  { kind: 'FIFO', method: 'mknodat', meta: { type: EntryType.ENTRY_TYPE_FIFO, mode: 0o010666 } },
  { kind: 'socket', method: 'mknodat', meta: { type: EntryType.ENTRY_TYPE_SOCKET, mode: 0o140777 } },
] as const;

for (const { kind, method, meta } of cases) {
  for (const isReplacing of [false, true]) {
    test(`a ${kind} swapped for a hard link to a stranger's file just after it was made${isReplacing ? ' (replacing an entry there)' : ''}: the file is not touched, the ${kind} is reported`, async (t) => {
      const target = await realpath(await mkdtemp(join(tmpdir(), 'cpsbackup-replaced-made-')));
      const outside = await realpath(await mkdtemp(join(tmpdir(), 'cpsbackup-replaced-outside-')));
      t.after(() => removeTree(target));
      t.after(() => removeTree(outside));
      const victim = await stranger(outside);
      // With --overwrite, the entry there differs from the backup's: it is made under a temp name, then renamed over it.
      if (isReplacing) await writeFile(join(target, 'entry'), 'in the way\n');
      const before = await fingerprint(victim);
      const tree = await RestoreTree.open(target);
      try {
        hookAfter(t, method, (dirfd, name) => {
          const made = `/proc/self/fd/${dirfd}/${name.toString('latin1')}`;
          renameSync(made, `${made}.aside`);
          linkSync(victim, made);
        });
        const writer = new RestoreWriter(tree, { strip: 0, overwrite: isReplacing ? 'always' : 'never', isRoot });
        await writer.write({ meta: EntryMeta.fromPartial({ path: Buffer.from('/entry'), ...ENTRY_OWNER, mtimeSec: BACKUP_MTIME_SEC, nlink: 1, ...meta }) });
        writer.finish();
        assert.equal(await fingerprint(victim), before, 'the stranger\'s file was changed');
        assert.ok(writer.outcome.failures.some((failure) => failure.includes(`: its owner, mode, attributes and times not set: the ${kind === 'FIFO' ? 'fifo' : kind} just made was replaced during the restore`)),
          JSON.stringify(writer.outcome.failures));
      } finally {
        tree.close();
      }
    });
  }
}

test('a symlink, FIFO and socket left in place get their metadata through a handle', async (t) => {
  const target = await realpath(await mkdtemp(join(tmpdir(), 'cpsbackup-replaced-made-')));
  t.after(() => removeTree(target));
  const tree = await RestoreTree.open(target);
  try {
    const writer = new RestoreWriter(tree, { strip: 0, overwrite: 'never', isRoot });
    for (const { kind, meta } of cases) {
      await writer.write({ meta: EntryMeta.fromPartial({ path: Buffer.from(`/${kind}`), ...ENTRY_OWNER, mtimeSec: BACKUP_MTIME_SEC, nlink: 1, ...meta, mode: meta.mode & ~0o027 }) });
    }
    writer.finish();
    assert.deepEqual(writer.outcome.failures, []);
    for (const { kind, meta } of cases) {
      const stats = await lstat(join(target, kind));
      assert.deepEqual([stats.uid, stats.gid, stats.mtimeMs], [ENTRY_OWNER.uid, ENTRY_OWNER.gid, BACKUP_MTIME_SEC * 1000], kind);
      if (kind !== 'symlink') assert.equal(stats.mode & 0o7777, meta.mode & 0o7777 & ~0o027, kind);
    }
  } finally {
    tree.close();
  }
});

