// A tree that changes while it is backed up (a deploy flipping a symlink, a folder made mid-walk, a user
// swapping a folder of their own for a symlink, a chmod and a write between the walk's lstat and the
// open): what is recorded must be what was there, each path once, and what was read must be described
// by the inode it was read from. The walk is a synchronous generator, so each change lands exactly
// between two of its steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs = require('node:fs');
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, realpathSync, renameSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { walk, type WalkOptions } from '../src/client/walker';
import { EntrySender, type SendProgress } from '../src/client/entry-sender';
import { mkdirAt, openFolderAt, openRealPath, posixConstants, statFd } from '../src/client/posix/at';
import * as atModule from '../src/client/posix/at';
import type { ParentIndex } from '../src/client/parent-index';
import type { UploadStream } from '../src/client/upload-stream';
import type { BatchedEntry } from '../src/proto/cpsbackup';
import { removeTree } from './support/remove-tree';

function makeRoot(t: { after(fn: () => void): void }): string {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'cpsbackup-walk-live-')));
  t.after(() => removeTree(root)); // one folder at a time: a test's tree goes past PATH_MAX
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

test('a folder on the include\'s way swapped for a symlink after it was resolved is not followed: another folder is never recorded under the include', (t) => {
  const root = makeRoot(t);
  const home = join(root, 'home');
  mkdirSync(join(home, 'www', 'data'), { recursive: true });
  writeFileSync(join(home, 'www', 'data', 'index.html'), 'public');
  mkdirSync(join(root, 'rootonly', 'data'), { recursive: true });
  writeFileSync(join(root, 'rootonly', 'data', 'shadow'), 'secret');
  // The swap lands between the resolution of the include's folder (as it enters www) and the open: the
  // race a user's rename loop wins now and then.
  const at = atModule as { openAt: typeof atModule.openAt };
  const openAt = at.openAt;
  at.openAt = (dirfd, name, flags, mode) => {
    const fd = openAt(dirfd, name, flags, mode);
    if (String(name) === 'www' && !existsSync(join(home, 'www.old'))) {
      renameSync(join(home, 'www'), join(home, 'www.old'));
      symlinkSync(join(root, 'rootonly'), join(home, 'www'));
    }
    return fd;
  };
  let walked: Walked;
  try {
    walked = walkWith([join(home, 'www', 'data')], () => undefined);
  } finally {
    at.openAt = openAt;
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

test('an entry moved from a folder not yet walked into one already listed is walked when the walk ends, in its new place', (t) => {
  const root = makeRoot(t);
  mkdirSync(join(root, 'a'));
  mkdirSync(join(root, 'b', 'sub'), { recursive: true });
  writeFileSync(join(root, 'b', 'sub', 'kept'), 'kept');
  writeFileSync(join(root, 'b', 'moved'), 'moved');
  const walked = walkWith([root], (path) => {
    // b is yielded before it is listed; a was listed and walked before it.
    if (path !== join(root, 'b')) return;
    renameSync(join(root, 'b', 'sub'), join(root, 'a', 'sub'));
    renameSync(join(root, 'b', 'moved'), join(root, 'a', 'moved'));
  });
  assert.deepEqual(walked.paths, [root, join(root, 'a'), join(root, 'b'), join(root, 'a', 'moved'), join(root, 'a', 'sub'), join(root, 'a', 'sub', 'kept')]);
  assert.deepEqual(walked.unreadable, []);
  assert.deepEqual(walked.warnings, ['2 entries made or moved into 1 folder after the walk listed it: read when the walk ended, in this backup']);
});

/** The warning's text for names another entry took after the walk read them. */
function tookNames(shown: string, count = 1): string {
  return `${count === 1 ? 'an entry' : `${count} entries`} took a name the backup had read in this folder (${shown}) during the backup: `
    + 'the backup holds what had the name when it was read (nothing, where that is reported as not in the backup), and what took it only where the walk read it before '
    + '(an entry moved here from a folder not walked yet is in neither place)';
}

test('an entry moved onto a name the walk had read, from a folder not walked yet, is named: the backup holds the earlier one', (t) => {
  const root = makeRoot(t);
  mkdirSync(join(root, 'a', 'd'), { recursive: true });
  mkdirSync(join(root, 'z'));
  writeFileSync(join(root, 'a', 'report.csv'), 'OLD');
  writeFileSync(join(root, 'z', 'report.csv'), 'NEW');
  writeFileSync(join(root, 'z', 'd-file'), 'a file now where a folder was');
  const walked = walkWith([root], (path) => {
    if (path !== join(root, 'z')) return;
    renameSync(join(root, 'z', 'report.csv'), join(root, 'a', 'report.csv'));
    fs.rmdirSync(join(root, 'a', 'd'));
    renameSync(join(root, 'z', 'd-file'), join(root, 'a', 'd'));
  });
  assert.deepEqual(walked.paths, [root, join(root, 'a'), join(root, 'a', 'd'), join(root, 'a', 'report.csv'), join(root, 'z')]);
  assert.deepEqual(walked.unreadable, []);
  assert.deepEqual(walked.warnings, [`${join(root, 'a')}: ${tookNames('"d", "report.csv"', 2)}`]);
});

test('a name taken and a mode changed in one folder are both named', (t) => {
  const root = makeRoot(t);
  mkdirSync(join(root, 'a'), { mode: 0o755 });
  chmodSync(join(root, 'a'), 0o755);
  mkdirSync(join(root, 'z'));
  writeFileSync(join(root, 'a', 'report'), 'OLD');
  writeFileSync(join(root, 'z', 'report'), 'NEW');
  const walked = walkWith([root], (path) => {
    if (path !== join(root, 'z')) return;
    renameSync(join(root, 'z', 'report'), join(root, 'a', 'report'));
    chmodSync(join(root, 'a'), 0o700);
  });
  const owner = `${process.getuid!()}:${process.getgid!()}`;
  assert.deepEqual(walked.warnings, [`${join(root, 'a')}: folder's mode or owner changed during the backup: stored as read, mode 0755 owner ${owner}, `
    + `now 0700 ${owner}; and ${tookNames('"report"')}`]);
});

test('a folder moved from one changed folder to the next during the looks is walked by one look only, then named', (t) => {
  const root = makeRoot(t);
  for (let index = 0; index < 6; index++) mkdirSync(join(root, `u${index}`));
  mkdirSync(join(root, 'z', 'big'), { recursive: true });
  for (let index = 0; index < 5; index++) writeFileSync(join(root, 'z', 'big', `f${index}`), `file ${index}`);
  let place = 0;
  let moves = 0;
  const walked = walkWith([root], (path) => {
    // A user moves their folder on, under a new name, each time a walk of it reaches its last file.
    if (path === join(root, 'z')) {
      for (let index = 0; index < 6; index++) writeFileSync(join(root, `u${index}`, 'touched'), 'a change, for the looks');
      return;
    }
    if (!path.endsWith('/f4') || place >= 5) return;
    const from = place === 0 ? join(root, 'z', 'big') : join(root, `u${place - 1}`, `big-${place - 1}`);
    renameSync(from, join(root, `u${place}`, `big-${place}`));
    place++;
    moves++;
  });
  assert.ok(moves >= 2, `${moves} moves`);
  // Its first walk, then one look's, then no more.
  assert.equal(walked.paths.filter((path) => path.endsWith('/f4')).length, 2, walked.paths.join('\n'));
  assert.ok(walked.warnings.some((warning) => warning === `${join(root, 'u1', 'big-1')}: moved here during the backup after the walk's end had read it as `
    + `${join(root, 'u0', 'big-0')}: in this backup there, as read then, and not read again; an entry moved into it since may be in neither its old nor its new place`),
  walked.warnings.join('\n'));
});

test('an entry moved into a folder whose mtime is then set back (tar, rsync -t) is found by a look: its ctime moved', (t) => {
  const root = makeRoot(t);
  mkdirSync(join(root, 'a'));
  mkdirSync(join(root, 'b'));
  writeFileSync(join(root, 'b', 'moved'), 'moved');
  // Long before the walk: not listed again for being racy, only for what its times say.
  execFileSync('touch', ['-m', '-d', '@1700000000.5', join(root, 'a')]);
  const listed = fs.statSync(join(root, 'a'), { bigint: true }).mtimeNs;
  const walked = walkWith([root], (path) => {
    if (path !== join(root, 'b')) return;
    renameSync(join(root, 'b', 'moved'), join(root, 'a', 'moved'));
    execFileSync('touch', ['-m', '-d', `@${listed / 1_000_000_000n}.${String(listed % 1_000_000_000n).padStart(9, '0')}`, join(root, 'a')]);
    assert.equal(fs.statSync(join(root, 'a'), { bigint: true }).mtimeNs, listed);
  });
  assert.ok(walked.paths.includes(join(root, 'a', 'moved')), walked.paths.join(', '));
  assert.deepEqual(walked.unreadable, []);
});

test('an entry moved during a second look into a folder that look has passed is found by the next look', (t) => {
  const root = makeRoot(t);
  for (const folder of ['a', 'a2', 'b']) mkdirSync(join(root, folder));
  writeFileSync(join(root, 'b', 'x1'), 'x1');
  writeFileSync(join(root, 'b', 'x3'), 'x3');
  const walked = walkWith([root], (path) => {
    if (path === join(root, 'b')) {
      renameSync(join(root, 'b', 'x1'), join(root, 'a', 'x1'));
      renameSync(join(root, 'b', 'x3'), join(root, 'a2', 'x3'));
    }
    // The first look lists a (finds x1), then a2: x3 leaves a2 before that, for a, which the look has passed.
    if (path === join(root, 'a', 'x1')) renameSync(join(root, 'a2', 'x3'), join(root, 'a', 'x3'));
  });
  assert.deepEqual(walked.paths, [root, join(root, 'a'), join(root, 'a2'), join(root, 'b'), join(root, 'a', 'x1'), join(root, 'a', 'x3')]);
  assert.deepEqual(walked.unreadable, []);
  assert.deepEqual(walked.warnings, ['2 entries made or moved into 1 folder after the walk listed it: read when the walk ended, in this backup']);
});

test('a folder renamed after it was walked is walked again under its new name; one replaced by another folder is named by its parent', (t) => {
  const root = makeRoot(t);
  const elsewhere = makeRoot(t);
  for (const folder of ['a', 'b', 'c']) mkdirSync(join(root, folder));
  writeFileSync(join(root, 'a', 'file'), 'a');
  writeFileSync(join(root, 'b', 'file'), 'b');
  const walked = walkWith([root], (path) => {
    if (path !== join(root, 'c')) return;
    renameSync(join(root, 'a'), join(root, 'a-renamed'));
    // b leaves the include, and a new b takes its name: the backup holds the first b's entries.
    renameSync(join(root, 'b'), join(elsewhere, 'b'));
    mkdirSync(join(root, 'b'));
    writeFileSync(join(root, 'b', 'other'), 'other');
  });
  assert.deepEqual(walked.paths, [root, join(root, 'a'), join(root, 'a', 'file'), join(root, 'b'), join(root, 'b', 'file'), join(root, 'c'),
    join(root, 'a-renamed'), join(root, 'a-renamed', 'file')]);
  assert.deepEqual(walked.unreadable, []);
  assert.deepEqual(walked.warnings, ['1 entry made or moved into 1 folder after the walk listed it: read when the walk ended, in this backup',
    `${root}: ${tookNames('"b"')}`]);
});

test('an entry a look finds that is gone before its lstat is not reported; a folder that changes at every look is named after the last', (t) => {
  const root = makeRoot(t);
  mkdirSync(join(root, 'spool'));
  mkdirSync(join(root, 'z'));
  let made = 0;
  const walked = walkWith([root], (path) => {
    if (path === join(root, 'z') || path.startsWith(join(root, 'spool', 'late-'))) {
      // Each step of the walk and of every look makes two files in the spool and removes one of the last pair.
      if (made > 0) unlinkSync(join(root, 'spool', `late-${made}-b`));
      made++;
      writeFileSync(join(root, 'spool', `late-${made}-a`), 'a');
      writeFileSync(join(root, 'spool', `late-${made}-b`), 'b');
    }
  });
  assert.ok(made < 10, `the looks end: ${made} steps`);
  assert.deepEqual(walked.unreadable, []);
  assert.deepEqual(walked.paths.filter((path) => path.includes('late-')), [1, 2, 3].map((step) => join(root, 'spool', `late-${step}-a`)));
  assert.deepEqual(walked.warnings, ['3 entries made or moved into 1 folder after the walk listed it: read when the walk ended, in this backup',
    `${join(root, 'spool')}: folder changed after the backup listed it (entries created, removed or renamed in it): `
    + 'an entry moved into it during the backup may be in neither its old nor its new place in this backup']);
});

test('an include\'s folder swapped for another after it was listed is named: what moved within it may be in no place', (t) => {
  const root = makeRoot(t);
  const site = join(root, 'site');
  mkdirSync(join(site, 'a'), { recursive: true });
  mkdirSync(join(site, 'z'));
  writeFileSync(join(site, 'z', 'moved'), 'moved');
  const walked = walkWith([site], (path) => {
    if (path !== join(site, 'z')) return;
    // A deploy: z's file moves back into a (already walked), and the whole folder is swapped for a copy.
    renameSync(join(site, 'z', 'moved'), join(site, 'a', 'moved'));
    renameSync(site, `${site}.old`);
    mkdirSync(site);
  });
  assert.ok(!walked.paths.some((path) => path.endsWith('moved')), walked.paths.join(', '));
  assert.deepEqual(walked.warnings, [`${site}: the include's folder was removed or replaced after the backup listed it: `
    + 'an entry moved within it during the backup may be in neither its old nor its new place in this backup']);
});

test('a folder made private after it was listed is named in a warning; an unchanged tree has none', (t) => {
  const root = makeRoot(t);
  mkdirSync(join(root, 'private'), { mode: 0o755 });
  writeFileSync(join(root, 'private', 'secret'), 'secret');
  chmodSync(join(root, 'private'), 0o755);
  const quiet = walkWith([root], () => undefined);
  assert.deepEqual(quiet.warnings, []);
  const stored = `${join(root, 'private')}: folder's mode or owner changed during the backup: stored as read, mode 0755 owner `
    + `${process.getuid!()}:${process.getgid!()}, now 0700 ${process.getuid!()}:${process.getgid!()}`;
  const walked = walkWith([root], (path) => {
    if (path === join(root, 'private', 'secret')) chmodSync(join(root, 'private'), 0o700);
  });
  assert.deepEqual(walked.warnings, [stored]);
  // Made private while the walk's caller handled the folder itself (its xattrs, a wait on the server), before its listing.
  chmodSync(join(root, 'private'), 0o755);
  const early = walkWith([root], (path) => {
    if (path === join(root, 'private')) chmodSync(join(root, 'private'), 0o700);
  });
  assert.deepEqual(early.warnings, [stored]);
});

test('a changed folder past PATH_MAX is looked at again a folder at a time; past ten, changed folders are counted', (t) => {
  const root = makeRoot(t);
  const name = 'd'.repeat(250);
  let fd = openFolderAt(posixConstants().AT_FDCWD, root);
  const deepNames: string[] = [];
  try {
    for (let depth = 0; depth < 18; depth++) {
      mkdirAt(fd, name, 0o755);
      const next = openFolderAt(fd, name);
      fs.closeSync(fd);
      fd = next;
      deepNames.push(name);
    }
    writeFileSync(`/proc/self/fd/${fd}/file`, 'deep');
  } finally {
    fs.closeSync(fd);
  }
  for (let index = 0; index < 12; index++) mkdirSync(join(root, `wide-${String(index).padStart(2, '0')}`));
  writeFileSync(join(root, 'wide-11', 'last'), 'the last entry walked');
  const deepPath = [root, ...deepNames].join('/');
  assert.ok(Buffer.byteLength(deepPath) > 4096);
  const walked = walkWith([root], (path) => {
    if (path !== join(root, 'wide-11', 'last')) return;
    // Every folder is listed now. The deepest gets a file and a new mode (reached through its fd: its path
    // is too long for the kernel), each wide folder a new mode: a look finds the file, the end names the modes.
    const deepest = openRealPath(deepPath, openFolderAt);
    try {
      writeFileSync(`/proc/self/fd/${deepest}/added`, 'added');
      fs.fchmodSync(deepest, 0o700);
    } finally {
      fs.closeSync(deepest);
    }
    for (let index = 0; index < 12; index++) chmodSync(join(root, `wide-${String(index).padStart(2, '0')}`), 0o700);
  });
  assert.equal(walked.paths.at(-1), `${deepPath}/added`);
  assert.deepEqual(walked.unreadable, []);
  assert.equal(walked.warnings.length, 12, walked.warnings.join('\n'));
  assert.equal(walked.warnings[0], '1 entry made or moved into 1 folder after the walk listed it: read when the walk ended, in this backup');
  assert.ok(walked.warnings[1].startsWith(`${deepPath}: folder's mode or owner changed during the backup`), walked.warnings[1].slice(-120));
  assert.equal(walked.warnings[11], '3 more folders changed after the backup listed them (as above)');
});
