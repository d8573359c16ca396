// Regression: a later hard link was matched to the first path sent by its inode number alone. An
// inode number freed during a long backup and given to new hard-linked files (cp -al, rsnapshot's
// rotation) made the new file a link to the old path, never read, restored with the old content and
// exit 0. Real reuse of a number cannot be forced here; the same inode rewritten between the two
// links looks the same to the sender (same device and inode, another size, mtime and ctime).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, lstatSync, mkdtempSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { walk } from '../src/client/walker';
import { EntrySender, type SendProgress } from '../src/client/entry-sender';
import type { ParentIndex } from '../src/client/parent-index';
import type { UploadStream } from '../src/client/upload-stream';
import type { BatchedEntry } from '../src/proto/cpsbackup';

/** Longer than a coarse kernel clock tick: a change after it shows in the ctime. */
const TICK_MS = 20;

/** A folder holding `first` and `later`, two links of one inode: its real path (the walk records that). */
function linkedPair(t: { after(fn: () => void): void }): string {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'cpsbackup-link-reuse-')));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(join(root, 'first'), 'old content\n');
  linkSync(join(root, 'first'), join(root, 'later'));
  return root;
}

/** Sends the walk of root, no parent backup; `afterSent(name)` runs before the walk reaches the next entry. */
async function sendWalk(root: string, afterSent: (name: string) => Promise<void>): Promise<{ sent: Map<string, BatchedEntry>; progress: SendProgress }> {
  const progress: SendProgress = { files: 0, bytesRead: 0, unchangedFiles: 0, carriedFiles: 0, warnings: [], unreadable: [], changedWhileRead: [], sentBytes: 0 };
  const sent = new Map<string, BatchedEntry>();
  // Small files only: all go inline in the batch, none through the upload stream.
  const parent = { acceptsCarriedRuns: false, lookup: () => undefined, get: async () => undefined } as unknown as ParentIndex;
  const sender = new EntrySender(undefined as unknown as UploadStream,
    { add: async (entry) => { sent.set(entry.meta!.path.toString().slice(root.length + 1), entry); }, flush: async () => undefined }, parent, progress);
  for (const entry of walk({
    includes: [root], excludeRegex: [], readAllFifos: false, skipPaths: new Set(),
    onWarning: (message) => progress.warnings.push(message), onUnreadable: (path, reason) => assert.fail(`${path}: ${reason}`),
  })) {
    await sender.send(entry);
    await afterSent(entry.meta.path.toString().slice(root.length + 1));
  }
  await sender.finish();
  return { sent, progress };
}

// Regression too: the later link of an inode changed during the backup was stored on its own silently,
// and restored unlinked from the first path with exit 0. It must say so, naming both paths.
test('a later link whose inode is no longer the one read under the first path is read as its own file, not linked to it, with a warning', async (t) => {
  const root = linkedPair(t);
  const { sent, progress } = await sendWalk(root, async (name) => {
    if (name !== 'first') return;
    // The inode number of "first" now holds other content: what a reused number looks like.
    await sleep(TICK_MS);
    writeFileSync(join(root, 'later'), 'new content, longer\n');
  });
  assert.deepEqual(progress.unreadable, []);
  // "first" still names that inode: it is the same file, changed, and the link between the two is lost.
  assert.deepEqual(progress.warnings, [
    `${join(root, 'later')} was not kept as a hard link of ${join(root, 'first')}: the file changed during the backup (each path stored as it was read)`,
  ]);
  assert.equal(sent.get('first')!.content.toString(), 'old content\n');
  const later = sent.get('later')!;
  assert.equal(later.meta!.hardlinkTarget.length, 0, `linked to ${later.meta!.hardlinkTarget.toString()}`);
  assert.equal(later.content.toString(), 'new content, longer\n');
  assert.equal(later.meta!.size, 'new content, longer\n'.length);
});

test('a later link of an inode number that the first path no longer names is read as its own file, without a warning', async (t) => {
  const root = linkedPair(t);
  const { sent, progress } = await sendWalk(root, async (name) => {
    if (name !== 'first') return;
    await sleep(TICK_MS);
    writeFileSync(join(root, 'later'), 'new content, longer\n');
    // "first" is another file now: no link between the two paths is there to keep (a reused number).
    writeFileSync(join(root, 'first.new'), 'replaced\n');
    renameSync(join(root, 'first.new'), join(root, 'first'));
  });
  assert.deepEqual(progress.unreadable, []);
  // None about the link: only that another file took the name "first" after it was read.
  assert.deepEqual(progress.warnings, [`${root}: an entry took a name the backup had read in this folder ("first") during the backup: `
    + 'the backup holds what had the name when it was read (nothing, where that is reported as not in the backup), and what took it only where the walk read it before '
    + '(an entry moved here from a folder not walked yet is in neither place)']);
  assert.equal(sent.get('later')!.meta!.hardlinkTarget.length, 0);
  assert.equal(sent.get('later')!.content.toString(), 'new content, longer\n');
});

test('a later link of the inode as it was read names the first path, with the first one\'s racy ctime', async (t) => {
  const root = linkedPair(t);
  const { ctimeNs } = lstatSync(join(root, 'first'), { bigint: true });
  const { sent, progress } = await sendWalk(root, async () => undefined);
  assert.deepEqual(progress.warnings, []);
  const first = sent.get('first')!.meta!;
  const later = sent.get('later')!;
  assert.equal(later.meta!.hardlinkTarget.toString(), join(root, 'first'));
  assert.equal(later.content.length, 0);
  // Written just now, "first" was read within the racy window: its ctime went one nanosecond off. The
  // later link must carry the same offset, or a next backup walking it alone trusts what was read here.
  assert.equal(first.ctimeNsec, Number(ctimeNs % 1_000_000_000n) ^ 1, 'the first link was sent with a racy ctime');
  assert.deepEqual([later.meta!.ctimeSec, later.meta!.ctimeNsec], [first.ctimeSec, first.ctimeNsec]);
});

// Regression: a later link of a FIFO or symlink was sent as an inode of its own and restored as one.
test('a later link of a FIFO or symlink names its first path', async (t) => {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'cpsbackup-special-links-')));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  execFileSync('mkfifo', [join(root, 'fifo')]);
  linkSync(join(root, 'fifo'), join(root, 'fifo.link'));
  symlinkSync('old target', join(root, 'symlink'));
  linkSync(join(root, 'symlink'), join(root, 'symlink.link'));
  const { sent, progress } = await sendWalk(root, async () => undefined);
  assert.deepEqual(progress.warnings, []);
  assert.equal(sent.get('fifo.link')!.meta!.hardlinkTarget.toString(), join(root, 'fifo'));
  assert.equal(sent.get('symlink.link')!.meta!.hardlinkTarget.toString(), join(root, 'symlink'));
});
