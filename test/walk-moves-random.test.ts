// Random moves while the walk runs, seeded: files and folders move from anywhere to fresh names in
// other folders (those walked, those not yet), between any two steps of the walk. Once the moves stop,
// every file and folder of the tree as it is then must have been walked at its path, and no path
// twice (the server refuses a backup that sends one twice). Before the walk's end looked again, a
// move from a folder not yet walked into one walked lost the entry, with exit 0. And nothing is
// reported vanished: every name gone when read was moved, and walked in its new place (before
// moved-entries.ts, each move between a folder's listing and the moved name's lstat was, exit 3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { walk } from '../src/client/walker';
import * as secondLookModule from '../src/client/second-look';
import { removeTree } from './support/remove-tree';

/** mulberry32: a small seeded generator, enough to pick moves. */
function randomFrom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = Math.imul(state ^ (state >>> 15), 1 | state);
    value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value;
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Every path under root (root included), as the tree is now. */
function treePaths(root: string): string[] {
  const paths = [root];
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const path = join(root, entry.name);
    if (entry.isDirectory()) paths.push(...treePaths(path));
    else paths.push(path);
  }
  return paths;
}

function makeTree(root: string, random: () => number): void {
  const folders = [root];
  for (let index = 0; index < 24; index++) {
    const parent = folders[Math.floor(random() * folders.length)];
    const folder = join(parent, `d${index}`);
    mkdirSync(folder);
    folders.push(folder);
  }
  for (let index = 0; index < 240; index++) writeFileSync(join(folders[Math.floor(random() * folders.length)], `f${index}`), `file ${index}`);
}

/** Moves a random file or folder of the tree to a fresh name in a random folder not inside it. */
function moveOne(root: string, random: () => number, fresh: () => string): void {
  const paths = treePaths(root).slice(1);
  const moved = paths[Math.floor(random() * paths.length)];
  const folders = [root, ...paths.filter(isFolder)]
    .filter((folder) => folder !== moved && !folder.startsWith(`${moved}/`));
  renameSync(moved, join(folders[Math.floor(random() * folders.length)], fresh()));
}

function isFolder(path: string): boolean {
  try {
    readdirSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Calls onLooks when the walk's looks at its end begin. */
function watchLooks(t: { after(fn: () => void): void }, onLooks: () => void): void {
  const looks = secondLookModule as { secondLooks: typeof secondLookModule.secondLooks };
  const secondLooks = looks.secondLooks;
  looks.secondLooks = (...args) => {
    onLooks();
    return secondLooks(...args);
  };
  t.after(() => {
    looks.secondLooks = secondLooks;
  });
}

test('random moves of files and folders during the walk: once they stop, every path of the tree was walked, each once', (t) => {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'cpsbackup-walk-moves-')));
  t.after(() => removeTree(base));
  let isLooking = false;
  watchLooks(t, () => {
    isLooking = true;
  });
  for (let seed = 1; seed <= 20; seed++) {
    const random = randomFrom(seed);
    const root = join(base, `seed-${seed}`);
    mkdirSync(root);
    makeTree(root, random);
    // Past the margin a birth time needs to be told from the walk's first listings (moved-entries.ts).
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 80);
    let moves = 0;
    let freshNames = 0;
    const walked: string[] = [];
    const warnings: string[] = [];
    const unreadable: string[] = [];
    // Moves until the looks at the walk's end begin: they then find a tree that holds still.
    isLooking = false;
    for (const entry of walk({
      includes: [root], excludeRegex: [], readAllFifos: false, skipPaths: new Set(),
      onWarning: (message) => warnings.push(message), onUnreadable: (path, reason) => unreadable.push(`${path}: ${reason}`),
    })) {
      walked.push(entry.meta.path.toString());
      // What the sender says once it has read an entry: a file moved here is proven in the backup.
      entry.noteRead();
      if (!isLooking && random() < 0.3) {
        moveOne(root, random, () => `m${freshNames++}`);
        moves++;
      }
    }
    const final = treePaths(root);
    const walkedSet = new Set(walked);
    assert.equal(walkedSet.size, walked.length, `seed ${seed}: a path walked twice: ${walked.filter((path, index) => walked.indexOf(path) !== index).join(', ')}`);
    const missing = final.filter((path) => !walkedSet.has(path));
    assert.deepEqual(missing, [], `seed ${seed} (${moves} moves): in the tree, never walked; unreadable: ${unreadable.join('; ')}; warnings: ${warnings.join('; ')}`);
    assert.deepEqual(unreadable, [], `seed ${seed} (${moves} moves): every file is in the tree and was walked: nothing vanished`);
    assert.ok(moves > 10, `seed ${seed}: ${moves} moves`);
  }
});
