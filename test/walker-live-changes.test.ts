// A tree that changes while it is backed up (a deploy flipping a symlink, a folder made mid-walk, a user
// swapping a folder of their own for a symlink, a chmod and a write between the walk's lstat and the
// open): what is recorded must be what was there, each path once, and what was read must be described
// by the inode it was read from. The walk is a synchronous generator, so each change lands exactly
// between two of its steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs = require('node:fs');
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { walk, type WalkOptions } from '../src/client/walker';
import { EntrySender, type SendProgress } from '../src/client/entry-sender';
import { openFolderAt, openRealPath, statFd } from '../src/client/posix/at';
import type { ParentIndex } from '../src/client/parent-index';
import type { UploadStream } from '../src/client/upload-stream';
import type { BatchedEntry } from '../src/proto/cpsbackup';

function makeRoot(t: { after(fn: () => void): void }): string {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'cpsbackup-walk-live-')));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  return root;
}

interface Walked {
  readonly paths: string[];
  readonly unreadable: string[];
  readonly warnings: string[];
}

/** Walks the includes; `change` runs at each entry the walk yields, before the walk goes on. */
function walkWith(includes: readonly string[], change: (path: string) => void): Walked {
  const walked: Walked = { paths: [], unreadable: [], warnings: [] };
  const options: WalkOptions = {
    includes, excludeRegex: [], readAllFifos: false, skipPaths: new Set(),
    onWarning: (message) => walked.warnings.push(message), onUnreadable: (path, reason) => walked.unreadable.push(`${path}: ${reason}`),
  };
  for (const entry of walk(options)) {
    const path = entry.meta.path.toString();
    walked.paths.push(path);
    change(path);
  }
  return walked;
}

test('a nested include reached through a symlink a deploy flips mid-walk: the folder the outer walk skipped is walked, once', (t) => {
  const root = makeRoot(t);
  const app = join(root, 'app');
  mkdirSync(join(app, 'releases', '5', 'data'), { recursive: true });
  writeFileSync(join(app, 'releases', '5', 'data', 'db5'), 'five');
  symlinkSync('releases/5', join(app, 'current'));
  const walked = walkWith([app, join(app, 'current', 'data')], (path) => {
    if (path !== join(app, 'releases', '5')) return;
    // After the walk listed releases: release 7 appears and current flips to it.
    mkdirSync(join(app, 'releases', '7', 'data'), { recursive: true });
    writeFileSync(join(app, 'releases', '7', 'data', 'db7'), 'seven');
    unlinkSync(join(app, 'current'));
    symlinkSync('releases/7', join(app, 'current'));
  });
  assert.ok(walked.paths.includes(join(app, 'releases', '5', 'data', 'db5')), `db5 is in the backup: ${walked.paths.join(', ')}`);
  assert.equal(new Set(walked.paths).size, walked.paths.length, 'no path twice');
  assert.deepEqual(walked.unreadable, []);
});

test('a nested include made after the backup started is walked by the outer include only, not twice', (t) => {
  const root = makeRoot(t);
  const tree = join(root, 'tree');
  mkdirSync(tree);
  const walked = walkWith([tree, join(tree, 'new', 'data')], (path) => {
    if (path !== tree) return;
    mkdirSync(join(tree, 'new', 'data'), { recursive: true });
    writeFileSync(join(tree, 'new', 'data', 'f'), 'f');
  });
  assert.equal(new Set(walked.paths).size, walked.paths.length, `no path twice (the server refused the backup): ${walked.paths.join(', ')}`);
  assert.ok(walked.paths.includes(join(tree, 'new', 'data', 'f')));
  assert.deepEqual(walked.unreadable, [`${join(tree, 'new', 'data')}: the include does not exist`]);
});

test('a folder on the include\'s way swapped for a symlink after realpath is not followed: another folder is never recorded under the include', (t) => {
  const root = makeRoot(t);
  const home = join(root, 'home');
  mkdirSync(join(home, 'www', 'data'), { recursive: true });
  writeFileSync(join(home, 'www', 'data', 'index.html'), 'public');
  mkdirSync(join(root, 'rootonly', 'data'), { recursive: true });
  writeFileSync(join(root, 'rootonly', 'data', 'shadow'), 'secret');
  // The swap lands between realpath and the open: the race a user's rename loop wins now and then.
  const realpath = fs.realpathSync;
  const swapping = (path: fs.PathLike, options?: unknown): string => {
    const real = realpath(path, options as BufferEncoding);
    if (String(path) === join(home, 'www')) {
      renameSync(join(home, 'www'), join(home, 'www.old'));
      symlinkSync(join(root, 'rootonly'), join(home, 'www'));
    }
    return real;
  };
  (fs as { realpathSync: unknown }).realpathSync = swapping;
  let walked: Walked;
  try {
    walked = walkWith([join(home, 'www', 'data')], () => undefined);
  } finally {
    (fs as { realpathSync: unknown }).realpathSync = realpath;
  }
  assert.ok(!walked.paths.some((path) => path.endsWith('shadow')), `root's file is not in the backup: ${walked.paths.join(', ')}`);
  assert.equal(walked.unreadable.length, 1);
  assert.match(walked.unreadable[0], /changed as it was opened \(a symlink took the place of a folder on its way\): not in this backup$/);

  // Opened one folder at a time, never through a symlink; the real path itself opens.
  assert.throws(() => openRealPath(join(home, 'www', 'data'), openFolderAt), (error: NodeJS.ErrnoException) => ['ELOOP', 'ENOTDIR'].includes(error.code ?? ''));
  const fd = openRealPath(join(home, 'www.old', 'data'), openFolderAt);
  try {
    assert.equal(statFd(fd).ino, BigInt(fs.statSync(join(home, 'www.old', 'data'), { bigint: true }).ino));
  } finally {
    fs.closeSync(fd);
  }
});

test('a file made private and rewritten between the walk\'s lstat and its open is recorded with the mode and times of what was read', async (t) => {
  const root = makeRoot(t);
  writeFileSync(join(root, 'notice'), 'public notice');
  chmodSync(join(root, 'notice'), 0o644);
  fs.utimesSync(join(root, 'notice'), new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));
  const progress: SendProgress = { files: 0, bytesRead: 0, unchangedFiles: 0, carriedFiles: 0, warnings: [], unreadable: [], changedWhileRead: [], sentBytes: 0 };
  const sent: BatchedEntry[] = [];
  // Inline content and no parent backup: the sender needs neither the upload stream nor chunking.
  const parent = { acceptsCarriedRuns: false, lookup: () => undefined, get: async () => undefined } as unknown as ParentIndex;
  const sender = new EntrySender(undefined as unknown as UploadStream, { add: async (entry) => { sent.push(entry); }, flush: async () => undefined },
    parent, progress);
  for (const entry of walk({
    includes: [root], excludeRegex: [], readAllFifos: false, skipPaths: new Set(),
    onWarning: (message) => assert.fail(message), onUnreadable: (path, reason) => assert.fail(`${path}: ${reason}`),
  })) {
    if (entry.meta.path.toString() === join(root, 'notice')) {
      chmodSync(join(root, 'notice'), 0o600);
      writeFileSync(join(root, 'notice'), 'the secret');
    }
    await sender.send(entry);
  }
  const notice = sent.find((item) => item.meta?.path.toString() === join(root, 'notice'));
  assert.ok(notice?.meta !== undefined);
  assert.equal(notice.meta.mode & 0o7777, 0o600, 'the mode of the file read (0644 with the secret before the fix)');
  assert.equal(notice.meta.size, 'the secret'.length);
  assert.ok(notice.meta.mtimeSec > 1_600_000_000, 'the mtime of the file read, not 2020');
  assert.deepEqual(progress.unreadable, []);
});

test('includes are not held open until their turn: three hundred walk under a limit of 128 fds', (t) => {
  const root = makeRoot(t);
  const includes: string[] = [];
  for (let index = 0; index < 300; index++) {
    const folder = join(root, `include-${index}`);
    mkdirSync(folder);
    writeFileSync(join(folder, 'f'), String(index));
    includes.push(folder);
  }
  const walker = join(__dirname, '..', 'src', 'client', 'walker.js');
  const script = `let n = 0; for (const e of require(${JSON.stringify(walker)}).walk({ includes: ${JSON.stringify(includes)}, excludeRegex: [], `
    + 'readAllFifos: false, skipPaths: new Set(), onWarning: () => {}, onUnreadable: (p, r) => { throw new Error(p + ": " + r); } })) n++; console.log(n);';
  const output = execFileSync('sh', ['-c', `ulimit -n 128 && exec "$0" -e "$1"`, process.execPath, script], { encoding: 'utf8' });
  assert.equal(output.trim(), '600');
});

test('an include whose folder is replaced between the start and its turn is reported, not walked in the new folder', (t) => {
  const root = makeRoot(t);
  mkdirSync(join(root, 'first'));
  mkdirSync(join(root, 'second', 'data'), { recursive: true });
  writeFileSync(join(root, 'second', 'data', 'old'), 'old');
  const walked = walkWith([join(root, 'first'), join(root, 'second', 'data')], (path) => {
    if (path !== join(root, 'first')) return;
    renameSync(join(root, 'second'), join(root, 'second.moved'));
    mkdirSync(join(root, 'second', 'data'), { recursive: true });
    writeFileSync(join(root, 'second', 'data', 'new'), 'new');
  });
  assert.ok(!walked.paths.some((path) => path.endsWith('new')), walked.paths.join(', '));
  assert.equal(walked.unreadable.length, 1);
  assert.match(walked.unreadable[0], /second\/data: its folder \S+second was replaced during the backup \(another folder has its path now\): not in this backup$/);
});

test('an include whose path passes a folder its user may pass but not list (0711, a home) is walked, as before the per-folder open', {
  skip: process.getuid?.() === 0 ? false : 'needs root to run the walk as another user',
}, (t) => {
  const root = makeRoot(t);
  chmodSync(root, 0o755);
  const home = join(root, 'home');
  mkdirSync(join(home, 'www', 'site'), { recursive: true });
  writeFileSync(join(home, 'www', 'site', 'index.html'), 'public');
  chmodSync(home, 0o711);
  const walker = join(__dirname, '..', 'src', 'client', 'walker.js');
  const script = `const paths = []; for (const e of require(${JSON.stringify(walker)}).walk({ includes: [${JSON.stringify(join(home, 'www', 'site'))}], `
    + 'excludeRegex: [], readAllFifos: false, skipPaths: new Set(), onWarning: () => {}, onUnreadable: (p, r) => { throw new Error(p + ": " + r); } })) '
    + 'paths.push(e.meta.path.toString()); console.log(paths.join(","));';
  const nobody = 65534;
  const output = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', uid: nobody, gid: nobody });
  assert.equal(output.trim(), [join(home, 'www', 'site'), join(home, 'www', 'site', 'index.html')].join(','));
});
