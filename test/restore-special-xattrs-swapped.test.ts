// Regression (security review): the xattrs and ACLs of a restored symlink, FIFO or device were set by
// name, each just after checking that the name still held the O_PATH handle's inode: a window one system
// call wide. A review swapped a restored FIFO for a hard link to a root file in a folder a local user
// controls, and the root file received the FIFO's ACL. Every attribute call now goes through the handle.
// The swap is made deterministic by hooking the addon's attribute writes: just before the first one, the
// entry is renamed aside and a hard link to a root file outside the target takes its name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { linkSync, renameSync } from 'node:fs';
import { mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntryMeta, EntryType } from '../src/proto/cpsbackup';
import { RestoreTree } from '../src/client/restore-tree/restore-tree';
import { RestoreWriter } from '../src/client/restore-writer';
import { posixAddon, type PosixAddon } from '../src/client/posix/addon';
import { makeDeviceAt } from '../src/client/posix/special-files';
import { ACL_ACCESS, readXattrs } from '../src/client/posix/xattrs';
import { removeTree } from './support/remove-tree';
import { ACL_GROUP_OBJ, ACL_MASK, ACL_NO_ID, ACL_OTHER, ACL_USER, ACL_USER_OBJ, aclBlob } from './support/acl-blob';

const isRoot = process.geteuid?.() === 0;
const TRUSTED = 'trusted.restored';

/** A version-2 ACL giving user 33 read access besides the owner's, the group's and others' bits. */
function readerAcl(): Buffer {
  return aclBlob([[ACL_USER_OBJ, 6, ACL_NO_ID], [ACL_USER, 4, 33], [ACL_GROUP_OBJ, 4, ACL_NO_ID], [ACL_MASK, 4, ACL_NO_ID], [ACL_OTHER, 0, ACL_NO_ID]]);
}

/** Runs `before()` once, just before the first attribute write or removal through the addon, whichever call the code uses. */
function hookFirstXattrWrite(t: { after(fn: () => void): void }, before: () => void): void {
  const addon = posixAddon() as unknown as Record<string, unknown>;
  let isDone = false;
  for (const method of ['lsetxattr', 'setxattr', 'setxattrat', 'lremovexattr', 'removexattr', 'removexattrat'] satisfies (keyof PosixAddon)[]) {
    const original = addon[method] as ((...args: unknown[]) => unknown) | undefined;
    if (original === undefined) continue; // an addon built before the call existed
    t.after(() => { addon[method] = original; });
    addon[method] = (...args: unknown[]): unknown => {
      if (!isDone) {
        isDone = true;
        before();
      }
      return original.apply(addon, args);
    };
  }
}

function xattrsOf(path: string): Record<string, string> {
  return Object.fromEntries(readXattrs({ path }).map((xattr) => [xattr.name.toString('latin1'), xattr.value.toString('hex')]));
}

/** Whether this machine lets root make a device node (a container may not). */
async function canMakeDevices(folder: string): Promise<boolean> {
  try {
    makeDeviceAt(posixAddon().constants.AT_FDCWD, join(folder, 'probe'), 'char', 0x103n, 0o600);
    await rm(join(folder, 'probe'));
    return true;
  } catch {
    return false;
  }
}

const cases = [
  { kind: 'FIFO', meta: { type: EntryType.ENTRY_TYPE_FIFO, mode: 0o010640 }, hasAcl: true },
  { kind: 'symlink', meta: { type: EntryType.ENTRY_TYPE_SYMLINK, mode: 0o120777, linkTarget: Buffer.from('somewhere') }, hasAcl: false },
  { kind: 'device', meta: { type: EntryType.ENTRY_TYPE_CHAR_DEVICE, mode: 0o020640, rdev: 0x103 }, hasAcl: true },
] as const;

for (const { kind, meta, hasAcl } of cases) {
  test(`a ${kind} swapped for a hard link to a root file just before its attributes are set: the root file keeps none, the ${kind} gets them`, {
    skip: isRoot ? undefined : 'needs root (trusted.* attributes, a root file outside the target)',
  }, async (t) => {
    const target = await realpath(await mkdtemp(join(tmpdir(), 'cpsbackup-special-xattrs-')));
    const outside = await realpath(await mkdtemp(join(tmpdir(), 'cpsbackup-special-xattrs-outside-')));
    t.after(() => removeTree(target));
    t.after(() => removeTree(outside));
    if (kind === 'device' && !(await canMakeDevices(outside))) {
      t.skip('mknod of a device is refused here');
      return;
    }
    const rootFile = join(outside, 'root-file');
    await writeFile(rootFile, 'root only\n', { mode: 0o600 });
    const entry = join(target, 'entry');
    const xattrs = [{ name: Buffer.from(TRUSTED), value: Buffer.from('the backup\'s') }, ...(hasAcl ? [{ name: Buffer.from(ACL_ACCESS), value: readerAcl() }] : [])];
    const tree = await RestoreTree.open(target);
    try {
      hookFirstXattrWrite(t, () => {
        renameSync(entry, `${entry}.aside`);
        linkSync(rootFile, entry);
      });
      const writer = new RestoreWriter(tree, { strip: 0, overwrite: 'never', isRoot });
      await writer.write({ meta: EntryMeta.fromPartial({ path: Buffer.from('/entry'), uid: 0, gid: 0, mtimeSec: 1_500_000_000, nlink: 1, ...meta, xattrs }) });
      writer.finish();
      assert.deepEqual(xattrsOf(rootFile), {}, `the root file outside the target received the ${kind}'s attributes`);
      const restored = xattrsOf(`${entry}.aside`);
      assert.equal(restored[TRUSTED], Buffer.from('the backup\'s').toString('hex'), `the ${kind} has its ${TRUSTED}: ${JSON.stringify(writer.outcome.failures)}`);
      if (hasAcl) assert.equal(restored[ACL_ACCESS], readerAcl().toString('hex'), `the ${kind} has its ACL`);
    } finally {
      tree.close();
    }
  });
}

test('without /proc a FIFO\'s attributes fail with a clear error, never set by name', {
  skip: isRoot ? undefined : 'needs root (a mount namespace without /proc)',
}, async (t) => {
  const target = await realpath(await mkdtemp(join(tmpdir(), 'cpsbackup-special-xattrs-')));
  t.after(() => removeTree(target));
  // A mount namespace of its own where /proc is unmounted: the handle's /proc/self/fd link is not there.
  const script = `(async () => {
    const { RestoreTree } = require(${JSON.stringify(join(__dirname, '..', 'src', 'client', 'restore-tree', 'restore-tree'))});
    const { RestoreWriter } = require(${JSON.stringify(join(__dirname, '..', 'src', 'client', 'restore-writer'))});
    const { EntryMeta } = require(${JSON.stringify(join(__dirname, '..', 'src', 'proto', 'cpsbackup'))});
    const tree = await RestoreTree.open(${JSON.stringify(target)});
    const writer = new RestoreWriter(tree, { strip: 0, overwrite: 'never', isRoot: true });
    await writer.write({ meta: EntryMeta.fromPartial({ path: Buffer.from('/fifo'), uid: 0, gid: 0, nlink: 1, type: ${EntryType.ENTRY_TYPE_FIFO},
      mode: 0o10640, xattrs: [{ name: Buffer.from('${TRUSTED}'), value: Buffer.from('v') }] }) });
    writer.finish();
    tree.close();
    process.stdout.write(JSON.stringify(writer.outcome.failures));
  })();`;
  const child = spawnSync('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', 'umount -l /proc && exec "$0" -e "$1"', process.execPath, script],
    { encoding: 'utf8', timeout: 60_000 });
  if (child.error !== undefined || (child.status !== 0 && /unshare|umount/.test(child.stderr))) {
    t.skip(`no mount namespace here: ${child.error?.message ?? child.stderr.trim()}`);
    return;
  }
  assert.equal(child.status, 0, child.stderr);
  const failures = JSON.parse(child.stdout) as string[];
  assert.match(failures.join('\n'), new RegExp(`xattr ${TRUSTED}: setxattr not done: this kernel takes no O_PATH handle for it and /proc/self/fd is not there`), child.stdout);
  assert.deepEqual(xattrsOf(join(target, 'fifo')), {}, 'nothing set');
});
