// Entries the walk cannot hold open (symlinks, FIFOs it does not read, devices, sockets, folders that
// cannot be opened) have their attributes read by name, after their lstat: a name given to another
// entry in between must not lend that entry's attributes (or link target) to this one's owner, mode
// and times. The walked entry refuses, saying how it changed; the same entry changed meanwhile (a FIFO
// written to, a chmod) is recorded as it is after the read; an untouched one reads as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, lchownSync, lstatSync, mkdtempSync, realpathSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntryChangedError, walk, type WalkedAttributes } from '../src/client/walker';
import { EntrySender, type SendProgress } from '../src/client/entry-sender';
import type { ParentIndex } from '../src/client/parent-index';
import type { UploadStream } from '../src/client/upload-stream';
import type { BatchedEntry } from '../src/proto/cpsbackup';

/** Longer than a coarse kernel clock tick: a change after it shows in the ctime. */
const TICK_MS = 20;

function makeTree(t: { after(fn: () => void): void }): string {
  // Its real path: the walk records an include where it really is.
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'cpsbackup-walk-by-name-')));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  symlinkSync('target-a', join(root, 'link'));
  execFileSync('mkfifo', [join(root, 'pipe')]);
  return root;
}

/** Walks root; before each named entry's attributes are read, `change` may alter it. */
async function walkWith(root: string, change: (name: string) => void, isRootChanged = false): Promise<Map<string, unknown>> {
  await new Promise((resolve) => setTimeout(resolve, TICK_MS));
  const outcomes = new Map<string, unknown>();
  for (const entry of walk({
    includes: [root], excludeRegex: [], readAllFifos: false, skipPaths: new Set(),
    onWarning: (message) => (isRootChanged ? failUnlessRootChanged(root, message) : assert.fail(message)),
    onUnreadable: (path, reason) => assert.fail(`${path}: ${reason}`),
  })) {
    const name = entry.meta.path.toString().slice(root.length + 1);
    change(name);
    try {
      outcomes.set(name, entry.readAttributes());
    } catch (error) {
      outcomes.set(name, error);
    }
  }
  assert.deepEqual([...outcomes.keys()], ['', 'link', 'pipe']);
  return outcomes;
}

/**
 * Replacing or removing an entry changes the folder listed before: the walk's end says so, and nothing else.
 * The new link has the old one's inode number only if no other file took the freed number in between (a
 * test running beside this one did, now and then): its name is then named as taken by another entry.
 */
function failUnlessRootChanged(root: string, message: string): void {
  if (message.startsWith(`${root}: folder changed after the backup listed it `)) return;
  if (message.startsWith(`${root}: an entry took a name the backup had read in this folder ("link") `)) return;
  assert.fail(message);
}

function assertRefused(outcome: unknown, reason: RegExp): void {
  assert.ok(outcome instanceof EntryChangedError, `refused, not read: ${JSON.stringify(outcome)}`);
  assert.match(outcome.message, reason);
}

function assertRead(outcome: unknown, hasChanged: boolean): WalkedAttributes {
  assert.ok(outcome !== undefined && !(outcome instanceof Error), `read: ${String(outcome)}`);
  const attributes = outcome as WalkedAttributes;
  assert.ok(Array.isArray(attributes.xattrs));
  assert.equal(attributes.hasChanged, hasChanged);
  return attributes;
}

test('an untouched symlink and FIFO read their attributes by name as before', async (t) => {
  const outcomes = await walkWith(makeTree(t), () => undefined);
  for (const outcome of outcomes.values()) assertRead(outcome, false);
});

test('a symlink replaced by another and a FIFO removed after the lstat are refused, not recorded with the new entry\'s attributes', async (t) => {
  const root = makeTree(t);
  const outcomes = await walkWith(root, (name) => {
    if (name === 'link') {
      unlinkSync(join(root, 'link'));
      symlinkSync('target-b', join(root, 'link'));
    }
    if (name === 'pipe') unlinkSync(join(root, 'pipe'));
  }, true);
  // A file system may give the new link the freed inode number: its ctime still tells them apart.
  assertRefused(outcomes.get('link'), /^(replaced by another entry|changed) while it was read; not in this backup$/);
  assertRefused(outcomes.get('pipe'), /^vanished during the backup$/);
});

test('a FIFO whose mode changed after the lstat is recorded with the mode it has after its attributes were read', async (t) => {
  const root = makeTree(t);
  const outcomes = await walkWith(root, (name) => {
    if (name === 'pipe') chmodSync(join(root, 'pipe'), 0o600);
  });
  assert.equal(assertRead(outcomes.get('pipe'), true).meta.mode & 0o7777, 0o600);
  assertRead(outcomes.get('link'), false);
});

test('a symlink changed after the lstat is refused: a new link may have the freed inode number, and the target read was the old one\'s', async (t) => {
  const root = makeTree(t);
  const outcomes = await walkWith(root, (name) => {
    if (name === 'link') {
      const { uid, gid } = lstatSync(join(root, 'link'));
      lchownSync(join(root, 'link'), uid, gid);
    }
  });
  assertRefused(outcomes.get('link'), /^changed while it was read; not in this backup$/);
});

test('a backup lists a replaced symlink as not in it, and warns of a FIFO changed while read, stored as it was then', async (t) => {
  const root = makeTree(t);
  await new Promise((resolve) => setTimeout(resolve, TICK_MS));
  const progress: SendProgress = { files: 0, bytesRead: 0, unchangedFiles: 0, carriedFiles: 0, warnings: [], unreadable: [], changedWhileRead: [], sentBytes: 0 };
  const sent: BatchedEntry[] = [];
  // No file is walked here: the sender needs neither the upload stream nor the parent's files.
  const sender = new EntrySender(undefined as unknown as UploadStream, { add: async (entry) => { sent.push(entry); }, flush: async () => undefined },
    { acceptsCarriedRuns: false } as unknown as ParentIndex, progress);
  for (const entry of walk({
    includes: [root], excludeRegex: [], readAllFifos: false, skipPaths: new Set(),
    onWarning: (message) => failUnlessRootChanged(root, message), onUnreadable: (path, reason) => assert.fail(`${path}: ${reason}`),
  })) {
    const name = entry.meta.path.toString().slice(root.length + 1);
    if (name === 'link') {
      unlinkSync(join(root, 'link'));
      symlinkSync('target-b', join(root, 'link'));
    }
    if (name === 'pipe') chmodSync(join(root, 'pipe'), 0o600);
    await sender.send(entry);
  }
  assert.equal(progress.unreadable.length, 1);
  assert.equal(progress.unreadable[0].path, join(root, 'link'));
  assert.match(progress.unreadable[0].reason, /^(replaced by another entry|changed) while it was read; not in this backup$/);
  assert.deepEqual(progress.warnings, [`${join(root, 'pipe')}: changed while it was read (stored as it was then)`]);
  assert.deepEqual(sent.map((item) => item.meta?.path.toString()), [root, join(root, 'pipe')]);
  assert.equal(sent[1].meta!.mode & 0o7777, 0o600);
});
