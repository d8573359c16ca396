// A name the walk saw as a regular file (or a FIFO read with read_all_fifos), given to something else
// before it is opened: the open never waits (a FIFO without a writer), an entry of another kind is left
// unread and reported, and another entry of the same kind is described by its own stat, not by the
// one the walk saw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, mkdirSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openedFile } from '../src/client/replaced-file';
import { openFolderAt, statAt, statFd } from '../src/client/posix/at';

const walkerModule = join(__dirname, '..', 'src', 'client', 'walker.js');
const fileContentModule = join(__dirname, '..', 'src', 'client', 'file-content.js');
const replacedModule = join(__dirname, '..', 'src', 'client', 'replaced-file.js');

function scratch(t: { after(fn: () => void): void }): string {
  const root = mkdtempSync(join(tmpdir(), 'cpsbackup-replaced-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  return root;
}

test('the opened inode against the walked one: the same file, another file, or no regular file at all', (t) => {
  const root = scratch(t);
  writeFileSync(join(root, 'file'), 'walked\n');
  writeFileSync(join(root, 'other'), 'another\n');
  mkdirSync(join(root, 'folder'));
  symlinkSync('file', join(root, 'link'));
  execFileSync('mkfifo', [join(root, 'fifo')]);
  const folderFd = openFolderAt(-100, root);
  t.after(() => closeSync(folderFd));
  const walked = statAt(folderFd, 'file');
  assert.deepEqual(openedFile(walked, statAt(folderFd, 'file')), { kind: 'same' });
  assert.deepEqual(openedFile(walked, statAt(folderFd, 'other')), { kind: 'replaced' });
  const reasons = ['folder', 'link', 'fifo'].map((name) => {
    const opened = openedFile(walked, statAt(folderFd, name));
    assert.equal(opened.kind, 'unreadable', name);
    return opened.kind === 'unreadable' ? opened.reason : '';
  });
  assert.deepEqual(reasons, [
    'was replaced by a folder during the backup', 'was replaced by a symbolic link during the backup', 'was replaced by a FIFO during the backup',
  ]);
  // A FIFO read for its content: a regular file in its place is not read as a socket.
  const walkedFifo = statAt(folderFd, 'fifo');
  assert.deepEqual(openedFile(walkedFifo, statAt(folderFd, 'file')), { kind: 'unreadable', reason: 'was replaced by a regular file during the backup' });
  assert.deepEqual(openedFile(walkedFifo, statAt(folderFd, 'fifo')), { kind: 'same' });
  // A regular file's fd opened non-blocking reads as any other.
  const fd = openSync(join(root, 'file'), constants.O_RDONLY | constants.O_NONBLOCK);
  t.after(() => closeSync(fd));
  assert.deepEqual(openedFile(walked, statFd(fd)), { kind: 'same' });
  assert.equal(readFileSync(fd, 'utf8'), 'walked\n');
});

/** Walks `root`, and before each named file is opened renames `replacement` over it; prints what was opened. */
function walkWithSwap(root: string, victim: string, replacement: string, readAllFifos = false): string {
  const script = `
const { renameSync } = require('node:fs');
const { walk } = require(${JSON.stringify(walkerModule)});
const { FileContent } = require(${JSON.stringify(fileContentModule)});
const { openedFile } = require(${JSON.stringify(replacedModule)});
const seen = [];
for (const entry of walk({ includes: [${JSON.stringify(root)}], excludeRegex: [], readAllFifos: ${readAllFifos}, skipPaths: new Set(),
  onWarning: () => {}, onUnreadable: (path, reason) => seen.push('unreadable ' + reason) })) {
  if (!entry.meta.path.toString().endsWith('/' + ${JSON.stringify(victim)})) continue;
  renameSync(${JSON.stringify(replacement)}, ${JSON.stringify(join(root, victim))});
  const content = FileContent.open(entry.open());
  const opened = openedFile(entry.stats, content.statAtOpen);
  const meta = opened.kind === 'replaced' ? entry.metaFrom(content.statAtOpen) : entry.meta;
  const isOwnStat = meta.inode === Number(content.statAtOpen.ino) && meta.mode === (content.statAtOpen.mode & 0o7777)
    && (meta.type !== 1 || meta.size === content.statAtOpen.size);
  seen.push(opened.kind + ' ' + (opened.kind === 'unreadable' ? opened.reason : isOwnStat));
  content.close();
}
process.stdout.write(seen.join('\\n'));
`;
  // In a child with a deadline: an open that waited for a FIFO's writer would hang the test runner itself.
  return execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
}

test('a FIFO renamed over a walked file: opened without waiting for a writer, and not read as the file', (t) => {
  const root = scratch(t);
  const data = join(root, 'data');
  mkdirSync(data);
  writeFileSync(join(data, 'victim'), 'the walked content\n');
  execFileSync('mkfifo', [join(root, 'fifo')]);
  assert.equal(walkWithSwap(data, 'victim', join(root, 'fifo')), 'unreadable was replaced by a FIFO during the backup');
});

test('another regular file renamed over a walked file: described by its own stat', (t) => {
  const root = scratch(t);
  const data = join(root, 'data');
  mkdirSync(data);
  writeFileSync(join(data, 'victim'), 'the walked content\n', { mode: 0o644 });
  writeFileSync(join(root, 'new'), 'a longer content saved over it by an editor\n', { mode: 0o600 });
  assert.equal(walkWithSwap(data, 'victim', join(root, 'new')), 'replaced true');
});

test('a read_all_fifos FIFO with a regular file renamed over it is left unread; another FIFO is described by its own stat', (t) => {
  const root = scratch(t);
  const data = join(root, 'data');
  mkdirSync(data);
  execFileSync('mkfifo', [join(data, 'pipe')]);
  writeFileSync(join(root, 'file'), 'not a pipe\n');
  assert.equal(walkWithSwap(data, 'pipe', join(root, 'file'), true), 'unreadable was replaced by a regular file during the backup');
  rmSync(join(data, 'pipe'));
  execFileSync('mkfifo', [join(data, 'pipe')]);
  execFileSync('mkfifo', ['-m', '600', join(root, 'other-pipe')]);
  assert.equal(walkWithSwap(data, 'pipe', join(root, 'other-pipe'), true), 'replaced true');
});
