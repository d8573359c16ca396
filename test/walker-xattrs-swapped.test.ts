// Regression: the walk read the attributes of an entry it holds no fd for (a FIFO, symlink, device,
// socket) by name, one call per attribute, and only then checked with an lstat that the name still held
// the walked inode. A user who swapped a FIFO of theirs for a hard link to a root file and back between
// those calls had the root file's attributes (its ACL, security.* and trusted.* values) recorded as the
// FIFO's, and a restore gave them to the FIFO. Every call now goes through one O_PATH handle checked to
// hold the walked inode. The swap is made deterministic by hooking the addon's attribute reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdtempSync, realpathSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { walk, type WalkedAttributes } from '../src/client/walker';
import { posixAddon, type PosixAddon } from '../src/client/posix/addon';
import { setXattr } from '../src/client/posix/xattrs';

const isRoot = process.geteuid?.() === 0;
const TRUSTED = 'trusted.owner-secret';

/** Swaps the entry for a link to `other` before the first attribute listing, and back after the last read of a value. */
function hookAttributeReads(t: { after(fn: () => void): void }, entry: string, other: string): void {
  const addon = posixAddon() as unknown as Record<string, unknown>;
  let isSwapped = false;
  const swap = (): void => {
    renameSync(entry, `${entry}.aside`);
    linkSync(other, entry);
    isSwapped = true;
  };
  const swapBack = (): void => {
    unlinkSync(entry);
    renameSync(`${entry}.aside`, entry);
    isSwapped = false;
  };
  const listings: (keyof PosixAddon)[] = ['llistxattr', 'listxattr', 'listxattrat'];
  const reads: (keyof PosixAddon)[] = ['lgetxattr', 'getxattr', 'getxattrat'];
  for (const method of [...listings, ...reads]) {
    const original = addon[method] as ((...args: unknown[]) => unknown) | undefined;
    if (original === undefined) continue; // an addon built before the call existed
    t.after(() => { addon[method] = original; });
    addon[method] = (...args: unknown[]): unknown => {
      if (listings.includes(method) && !isSwapped) swap();
      try {
        return original.apply(addon, args);
      } finally {
        if (reads.includes(method) && isSwapped) swapBack();
      }
    };
  }
}

for (const kind of ['FIFO', 'symlink'] as const) {
  test(`a ${kind} swapped for a hard link to a root file and back while its attributes are read: the root file's are never recorded as the ${kind}'s`, {
    skip: isRoot ? undefined : 'needs root (trusted.* attributes, a root file beside the entry)',
  }, (t) => {
    const root = realpathSync(mkdtempSync(join(tmpdir(), 'cpsbackup-walk-xattrs-swapped-')));
    const outside = realpathSync(mkdtempSync(join(tmpdir(), 'cpsbackup-walk-xattrs-outside-')));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    t.after(() => rmSync(outside, { recursive: true, force: true }));
    const rootFile = join(outside, 'root-file');
    writeFileSync(rootFile, 'root only\n', { mode: 0o600 });
    setXattr({ path: rootFile }, TRUSTED, Buffer.from('the root file\'s'));
    const entry = join(root, 'entry');
    if (kind === 'FIFO') execFileSync('mkfifo', [entry]);
    else execFileSync('ln', ['-s', 'somewhere', entry]);
    setXattr({ path: entry }, TRUSTED, Buffer.from('the entry\'s'));
    let attributes: WalkedAttributes | Error | undefined;
    for (const walked of walk({
      includes: [root], excludeRegex: [], readAllFifos: false, skipPaths: new Set(),
      onWarning: () => undefined, onUnreadable: (path, reason) => assert.fail(`${path}: ${reason}`),
    })) {
      if (!walked.meta.path.equals(Buffer.from(entry))) continue;
      hookAttributeReads(t, entry, rootFile);
      try {
        attributes = walked.readAttributes();
      } catch (error) {
        attributes = error as Error;
      }
    }
    assert.ok(attributes !== undefined, 'the walk reached the entry');
    if (attributes instanceof Error) {
      // Refusing the entry is honest too (a symlink whose ctime moved), as long as nothing wrong is recorded.
      assert.match(attributes.message, /not in this backup/);
      return;
    }
    const recorded = Object.fromEntries(attributes.xattrs.map((xattr) => [xattr.name.toString('latin1'), xattr.value.toString()]));
    assert.equal(recorded[TRUSTED], 'the entry\'s', `the ${kind} was recorded with the root file's attribute`);
  });
}
