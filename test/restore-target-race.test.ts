// The folders a restore makes for its target are made and opened one by one from the folder held before
// them, never resolved again by path: made with a recursive mkdir and then realpath'd, a made folder
// swapped for a symlink in between (by anyone who can write beside it, as in /tmp) steered the whole
// restore into the symlink's destination. A second process swaps each made folder for a symlink as fast
// as it can while targets are opened; the old code landed in the symlink's destination in about one
// opening in four here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RestoreTree } from '../src/client/restore-tree/restore-tree';
import { removeMadeFolders } from '../src/client/restore-tree/target-root';

const OPENINGS = 400;

/** Renames the real folder `a` of the folder named in `current` away and puts a symlink to the victim in its place, in a loop. */
const SWAPPER = `
const fs = require('node:fs');
const [base, victim] = process.argv.slice(1);
const parentPid = process.ppid;
const deadline = Date.now() + 120000;
let swaps = 0;
// Ends with its test: the stop file, or the test process gone (killed without its cleanup), or two minutes.
while (!fs.existsSync(base + '/stop') && process.ppid === parentPid && Date.now() < deadline) {
  try {
    const parent = fs.readFileSync(base + '/current', 'utf8');
    if (parent === '' || !fs.lstatSync(parent + '/a').isDirectory()) continue;
    fs.renameSync(parent + '/a', parent + '/moved-' + swaps);
    swaps++;
    fs.symlinkSync(victim, parent + '/a');
  } catch {}
}
fs.writeFileSync(base + '/swaps', String(swaps));
`;

test('a target folder swapped for a symlink while the target is made: the restore never lands behind the symlink', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'cpsbackup-target-race-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const victim = join(base, 'victim');
  mkdirSync(join(victim, 'b', 'c'), { recursive: true });
  writeFileSync(join(base, 'current'), '');
  const swapper = spawn(process.execPath, ['-e', SWAPPER, base, victim], { stdio: 'inherit' });
  const exited = once(swapper, 'exit');
  t.after(() => swapper.kill('SIGKILL'));

  let landed = 0;
  let opened = 0;
  const refusals: string[] = [];
  try {
    for (let index = 0; index < OPENINGS; index++) {
      // A parent of its own for each opening: the swapper never acts on one this loop has left.
      const parent = join(base, `p${index}`);
      mkdirSync(parent);
      writeFileSync(join(base, 'current.new'), parent);
      renameSync(join(base, 'current.new'), join(base, 'current'));
      let tree: RestoreTree;
      try {
        tree = await RestoreTree.open(join(parent, 'a', 'b', 'c'));
      } catch (error) {
        // A swap between the mkdir and the opening without following: refused, as it should be (a
        // symlink found there, or nothing yet between the swapper's rename and its symlink).
        refusals.push((error as Error).message);
        continue;
      }
      opened++;
      // What a restore writes first: a folder of the backup, below the root.
      tree.makeFolder('/restored');
      tree.close();
      if (readdirSync(join(victim, 'b', 'c')).length > 0) {
        landed++;
        rmSync(join(victim, 'b', 'c', 'restored'), { recursive: true, force: true });
      }
    }
  } finally {
    writeFileSync(join(base, 'stop'), '');
    await exited;
  }
  const swaps = Number(readFileSync(join(base, 'swaps'), 'utf8'));
  assert.ok(swaps > 0, 'the swapper swapped no made folder: the race was not run');
  assert.ok(opened > 0, 'no target was opened');
  assert.equal(landed, 0, `${landed} of ${opened} restores wrote into the folder behind the symlink (${swaps} swaps)`);
  const otherRefusals = refusals.filter((message) => !/is a symlink \(-> .*nothing is written through a symlink|cannot open the restore target .*: ENOENT/.test(message));
  assert.deepEqual(otherRefusals, [], 'a refusal other than the swap');
});

// A refused restore removes the folders it made (restorer.ts). Found again by path, a made folder renamed
// away and replaced by an empty one of someone else's (anyone who may write beside it) took that one.
test('the folders a target\'s making made are removed only while they are the folders made', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'cpsbackup-target-made-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const tree = await RestoreTree.open(join(base, 'a', 'b'));
  tree.close();
  assert.deepEqual(tree.madeFolders.map((folder) => folder.path), [join(base, 'a', 'b'), join(base, 'a')]);
  renameSync(join(base, 'a', 'b'), join(base, 'a', 'b.made'));
  mkdirSync(join(base, 'a', 'b'));
  removeMadeFolders(tree.madeFolders);
  assert.deepEqual(readdirSync(join(base, 'a')).sort(), ['b', 'b.made'], 'the folder put in its place stays, and so does its parent');
  // Untouched, both go.
  const again = await RestoreTree.open(join(base, 'c', 'd'));
  again.close();
  removeMadeFolders(again.madeFolders);
  assert.ok(!readdirSync(base).includes('c'));
});
