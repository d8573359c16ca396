// Regression (restore fidelity review): XFS lists each POSIX ACL to root a second time, as
// trusted.SGI_ACL_FILE / trusted.SGI_ACL_DEFAULT (its on-disk form). They were backed up as attributes
// of their own and written back: restored onto XFS, a stale copy brought back an ACL the backup did not
// have (a user given read and write), exit 0. Needs root and an XFS loop mount; skipped with the reason otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readXattrs, type Xattr } from '../src/client/posix/xattrs';
import { ExistingEntries } from '../src/client/existing-entries';
import { EntryType, type EntryMeta } from '../src/proto/cpsbackup';
import type { RestoreTree } from '../src/client/restore-tree/restore-tree';

function whyNot(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (XFS shows its ACL copies to root only, and a loop mount needs root)';
  for (const tool of ['mkfs.xfs', 'setfacl', 'getfattr', 'losetup']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed`;
    }
  }
  return undefined;
}

const reason = whyNot();

test('XFS\'s copies of a file\'s ACL are not read as attributes, and a backup that holds them never writes them back', { skip: reason }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'cpsbackup-xfs-'));
  const image = join(root, 'xfs.img');
  const mountPoint = join(root, 'mnt');
  execFileSync('mkdir', [mountPoint]);
  execFileSync('truncate', ['-s', '300M', image]);
  execFileSync('mkfs.xfs', ['-q', '-f', image]);
  try {
    execFileSync('mount', ['-o', 'loop', image, mountPoint], { stdio: 'pipe' });
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    t.skip(`cannot loop-mount an XFS image here: ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`);
    return;
  }
  t.after(async () => {
    execFileSync('umount', [mountPoint]);
    await rm(root, { recursive: true, force: true });
  });
  const file = join(mountPoint, 'f');
  await writeFile(file, 'data\n');
  execFileSync('setfacl', ['-m', 'u:54321:rw', file]);
  const listed = execFileSync('getfattr', ['-m', '-', '--absolute-names', file], { encoding: 'utf8' });
  assert.match(listed, /trusted\.SGI_ACL_FILE/, 'XFS lists its copy to root (else this test proves nothing)');
  const names = readXattrs({ path: file }).map((xattr) => xattr.name.toString('latin1'));
  assert.deepEqual(names, ['system.posix_acl_access'], 'the ACL once, as system.posix_acl_access');

  // A backup made before the fix holds the copy: the restore gives only the real attributes.
  const meta = { type: EntryType.ENTRY_TYPE_FILE, mode: 0o100660, xattrs: [
    { name: Buffer.from('trusted.SGI_ACL_FILE'), value: Buffer.from('stale') },
    { name: Buffer.from('user.note'), value: Buffer.from('kept') },
  ] } as unknown as EntryMeta;
  // The tree's part: the ACLs' names as here (none recorded in this backup, so the list as it is).
  const tree = { localXattrs: (xattrs: readonly Xattr[]) => [...xattrs] } as unknown as RestoreTree;
  for (const isRoot of [true, false]) {
    const given = new ExistingEntries(tree, { overwrite: 'never', isRoot }, []).xattrsGiven(meta);
    assert.deepEqual(given.map((xattr) => xattr.name.toString('latin1')), ['user.note'], `isRoot ${isRoot}`);
  }
});
