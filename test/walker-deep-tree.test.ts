// Regression: a tree 2,000 folders deep (a 4,000-byte path, below PATH_MAX, which any user can make in
// a folder of theirs inside an include) ended every backup of the node with "Maximum call stack size
// exceeded" and a stack trace, exit 1: the walk was a generator per folder level, each entry yielded
// through all of them on the native stack. Past 4,000-byte paths the walk's end then reached each
// folder from "/" again (6 million opens at 4,000 folders, 20 s of a blocked event loop; at 8,000 the
// server dropped the connection). The walk takes any depth its paths allow, each folder reached once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, realpathSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { walk } from '../src/client/walker';
import { mkdirAt, openAt, openFolderAt, posixConstants } from '../src/client/posix/at';

/** Folders nested this deep: paths of 12,000 bytes and more at the bottom. */
const DEPTH = 6000;

function makeDeepTree(root: string, depth: number): void {
  let fd = openFolderAt(posixConstants().AT_FDCWD, root);
  try {
    for (let level = 0; level < depth; level++) {
      mkdirAt(fd, 'd', 0o755);
      const next = openFolderAt(fd, 'd');
      closeSync(fd);
      fd = next;
    }
    const { O_WRONLY, O_CREAT, O_EXCL } = posixConstants();
    const file = openAt(fd, 'bottom', O_WRONLY | O_CREAT | O_EXCL, 0o644);
    writeSync(file, 'at the bottom\n');
    closeSync(file);
  } finally {
    closeSync(fd);
  }
}

test('a tree thousands of folders deep is walked whole, each folder reached once', (t) => {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'cpsbackup-walk-deep-')));
  // rm's own walk goes to any depth (fs.rm stops at PATH_MAX).
  t.after(() => execFileSync('rm', ['-rf', root]));
  makeDeepTree(root, DEPTH);
  const problems: string[] = [];
  let folders = 0;
  let files = 0;
  let deepest = 0;
  const before = process.cpuUsage();
  for (const entry of walk({
    includes: [root], excludeRegex: [], readAllFifos: false, skipPaths: new Set(),
    onWarning: (message) => problems.push(`warning: ${message.slice(0, 200)}`),
    onUnreadable: (path, reason) => problems.push(`${path.slice(0, 200)}: ${reason}`),
  })) {
    if (entry.meta.path.subarray(-7).toString() === '/bottom') files++;
    else folders++;
    deepest = Math.max(deepest, entry.meta.path.length);
  }
  const used = process.cpuUsage(before);
  assert.deepEqual(problems, []);
  assert.equal(folders, DEPTH + 1, 'the include and every folder below it');
  assert.equal(files, 1);
  assert.equal(deepest, root.length + 2 * DEPTH + '/bottom'.length);
  // Reached from "/" for each folder past 4,000 bytes, this walk took about a minute of CPU here; once each, about 1 s.
  const seconds = (used.user + used.system) / 1e6;
  assert.ok(seconds < 15, `the walk took ${seconds.toFixed(1)} s of CPU`);
});
