// Entries moved during the walk whose old place is then gone, driven through the walker alone (each
// entry's noteRead() stands in for the sender, which calls it once it has read the entry): a folder
// moved to a path where exclude_regex leaves its content out proves no move (its old name is reported);
// a file the looks at the walk's end read and an editor then saved over, found again under its backup
// name (x~), is read there, not skipped as read already (it was in no place: the second review of the
// moved-entries change).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, renameSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { walk } from '../src/client/walker';
import { LISTED_NUMBERS_ARE_OWN, TRUSTED_BIRTH_TIMES } from '../src/client/moved-entries';
import { removeTree } from './support/remove-tree';

const sleep = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

function makeRoot(t: { after(fn: () => void): void }): string {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'cpsbackup-moved-away-')));
  t.after(() => removeTree(root));
  return root;
}

/** Walks root with the exclude patterns; `change(path)` runs at each entry yielded, then the entry counts as read. */
function walkWith(root: string, excludeRegex: RegExp[], change: (path: string) => void): { paths: string[]; unreadable: string[]; warnings: string[] } {
  const walked = { paths: [] as string[], unreadable: [] as string[], warnings: [] as string[] };
  for (const entry of walk({
    includes: [root], excludeRegex, readAllFifos: false, skipPaths: new Set(),
    onWarning: (message) => walked.warnings.push(message), onUnreadable: (path, reason) => walked.unreadable.push(`${path}: ${reason}`),
  })) {
    const path = entry.meta.path.toString();
    walked.paths.push(path);
    change(path);
    entry.noteRead();
  }
  return walked;
}

test('a folder moved where exclude_regex leaves out what it holds proves no move: its old name is reported vanished', (t) => {
  const root = makeRoot(t);
  const type = statfsSync(root).type;
  if (!TRUSTED_BIRTH_TIMES.has(type) || !LISTED_NUMBERS_ARE_OWN.has(type)) return t.skip(`no move can be proven on ${root} (statfs type 0x${type.toString(16)})`);
  mkdirSync(join(root, 'a', 'work'), { recursive: true });
  writeFileSync(join(root, 'a', '0first'), 'first\n');
  writeFileSync(join(root, 'a', 'work', 'thesis.tex'), 'chapter 1\n');
  mkdirSync(join(root, 'b'));
  writeFileSync(join(root, 'b', 'plain'), 'plain\n');
  sleep(80);
  let hasMoved = false;
  // a is listed; its first name is yielded before a/work's lstat: the folder goes where /cache/ excludes its content.
  const walked = walkWith(root, [/\/cache\//], (path) => {
    if (path === join(root, 'a', '0first')) {
      renameSync(join(root, 'a', 'work'), join(root, 'b', 'cache'));
      hasMoved = true;
    }
  });
  assert.ok(hasMoved);
  assert.ok(walked.paths.includes(join(root, 'b', 'cache')), 'the folder is walked in its new place');
  assert.ok(!walked.paths.includes(join(root, 'b', 'cache', 'thesis.tex')), 'its content is excluded there');
  assert.deepEqual(walked.unreadable, [`${join(root, 'a', 'work')}: vanished during the backup`]);

  // The same move where nothing is excluded: proven, not reported.
  const other = join(root, 'again');
  mkdirSync(join(other, 'a', 'work'), { recursive: true });
  writeFileSync(join(other, 'a', '0first'), 'first\n');
  writeFileSync(join(other, 'a', 'work', 'thesis.tex'), 'chapter 1\n');
  mkdirSync(join(other, 'b'));
  sleep(80);
  const proven = walkWith(other, [], (path) => {
    if (path === join(other, 'a', '0first')) renameSync(join(other, 'a', 'work'), join(other, 'b', 'kept'));
  });
  assert.deepEqual(proven.unreadable, []);
  assert.ok(proven.paths.includes(join(other, 'b', 'kept', 'thesis.tex')));
});

test('a project moved where exclude_regex leaves out the same names at both paths (node_modules) proves its move: not reported', (t) => {
  const root = makeRoot(t);
  const type = statfsSync(root).type;
  if (!TRUSTED_BIRTH_TIMES.has(type) || !LISTED_NUMBERS_ARE_OWN.has(type)) return t.skip(`no move can be proven on ${root} (statfs type 0x${type.toString(16)})`);
  const project = (base: string): void => {
    mkdirSync(join(base, 'a', 'proj', 'node_modules', 'lib'), { recursive: true });
    mkdirSync(join(base, 'a', 'proj', 'web', 'node_modules'), { recursive: true });
    writeFileSync(join(base, 'a', 'proj', 'node_modules', 'lib', 'index.js'), 'x\n');
    writeFileSync(join(base, 'a', 'proj', 'web', 'app.js'), 'app\n');
    writeFileSync(join(base, 'a', 'proj', 'main.c'), 'int main;\n');
    writeFileSync(join(base, 'a', '0first'), 'first\n');
    mkdirSync(join(base, 'b'));
  };
  const moveAtFirst = (base: string, to: string) => (path: string): void => {
    if (path === join(base, 'a', '0first')) renameSync(join(base, 'a', 'proj'), join(base, 'b', to));
  };
  project(root);
  sleep(80);
  const walked = walkWith(root, [/\/node_modules$/], moveAtFirst(root, 'proj'));
  assert.deepEqual(walked.unreadable, [], walked.warnings.join('; '));
  for (const kept of ['b/proj/main.c', 'b/proj/web/app.js']) assert.ok(walked.paths.includes(join(root, kept)), kept);
  assert.ok(!walked.paths.some((path) => path.includes('node_modules')), 'node_modules left out at the new path');
  assert.match(walked.warnings.join('\n'), /1 entry gone during the backup from where the walk listed it \(.*\/a\/proj\) read elsewhere/);

  // A rule that leaves a name out at the new path only (here the moved folder's name is in the pattern):
  // the old path would have held web/app.js, which is in no place: reported.
  const other = join(root, 'other');
  mkdirSync(other);
  project(other);
  sleep(80);
  const narrowed = walkWith(other, [/\/node_modules$/, /\/b\/renamed\/web$/], moveAtFirst(other, 'renamed'));
  assert.deepEqual(narrowed.unreadable, [`${join(other, 'a', 'proj')}: vanished during the backup`]);
});

test('a folder moved twice, its subfolder proven in its third place only with exclusions judged at the second: the first name is reported', (t) => {
  // Found by review: a/proj moved to b/proj, then, while b/proj is walked, b/proj/g moved to c/g, where
  // the rule leaves x.iso out (as it would at b/proj/g/x.iso, but not at a/proj/g/x.iso): x.iso is in no place.
  const root = makeRoot(t);
  const type = statfsSync(root).type;
  if (!TRUSTED_BIRTH_TIMES.has(type) || !LISTED_NUMBERS_ARE_OWN.has(type)) return t.skip(`no move can be proven on ${root} (statfs type 0x${type.toString(16)})`);
  mkdirSync(join(root, 'a', 'proj', 'g'), { recursive: true });
  writeFileSync(join(root, 'a', '0first'), 'first\n');
  writeFileSync(join(root, 'a', 'proj', '0mark'), 'mark\n');
  writeFileSync(join(root, 'a', 'proj', 'g', 'keep'), 'keep\n');
  writeFileSync(join(root, 'a', 'proj', 'g', 'x.iso'), 'image\n');
  mkdirSync(join(root, 'b'));
  mkdirSync(join(root, 'c'));
  sleep(80);
  const isoUnderBOrC = new RegExp(`^${root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/[bc]/.*\\.iso$`);
  const walked = walkWith(root, [isoUnderBOrC], (path) => {
    if (path === join(root, 'a', '0first')) renameSync(join(root, 'a', 'proj'), join(root, 'b', 'proj'));
    if (path === join(root, 'b', 'proj', '0mark')) renameSync(join(root, 'b', 'proj', 'g'), join(root, 'c', 'g'));
  });
  assert.ok(walked.paths.includes(join(root, 'c', 'g', 'keep')), walked.paths.join(', '));
  assert.ok(!walked.paths.some((path) => path.endsWith('x.iso')), 'x.iso is left out where the walk found it');
  assert.deepEqual(walked.unreadable, [`${join(root, 'a', 'proj')}: vanished during the backup`]);

  // The second review: the folder moved a third time once walked at b/proj (to d/proj, walked again; or
  // back under a/, where the looks at the walk's end read it), its new walk without g: still reported.
  for (const third of [['d', 'proj'], ['a', 'proj2']]) {
    const base = join(root, `third-${third.join('-')}`);
    mkdirSync(join(base, 'a', 'proj', 'g'), { recursive: true });
    writeFileSync(join(base, 'a', '0first'), 'first\n');
    writeFileSync(join(base, 'a', 'proj', '0mark'), 'mark\n');
    writeFileSync(join(base, 'a', 'proj', 'g', 'keep'), 'keep\n');
    writeFileSync(join(base, 'a', 'proj', 'g', 'x.iso'), 'image\n');
    for (const folder of ['b', 'c', 'd']) mkdirSync(join(base, folder));
    writeFileSync(join(base, 'b', 'zz'), 'after proj\n');
    sleep(80);
    const rule = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/[bc]/.*\\.iso$`);
    const thrice = walkWith(base, [rule], (path) => {
      if (path === join(base, 'a', '0first')) renameSync(join(base, 'a', 'proj'), join(base, 'b', 'proj'));
      if (path === join(base, 'b', 'proj', '0mark')) renameSync(join(base, 'b', 'proj', 'g'), join(base, 'c', 'g'));
      if (path === join(base, 'b', 'zz')) renameSync(join(base, 'b', 'proj'), join(base, ...third));
    });
    assert.ok(thrice.paths.includes(join(base, ...third, '0mark')), `walked again at ${third.join('/')}: ${thrice.paths.join(', ')}`);
    assert.ok(thrice.unreadable.includes(`${join(base, 'a', 'proj')}: vanished during the backup`), `${third.join('/')}: ${thrice.unreadable.join('; ')}`);
  }

  // The third review: three links (a/proj to b/proj; b/proj/m to c/m while b/proj is walked; c/m/k to d/k
  // while c/m is walked), x.iso left out only under b, c and d: the first name is reported, not only the middle one.
  const chain = join(root, 'chain');
  mkdirSync(join(chain, 'a', 'proj', 'm', 'k'), { recursive: true });
  writeFileSync(join(chain, 'a', '0first'), 'first\n');
  writeFileSync(join(chain, 'a', 'proj', '0mark'), 'mark\n');
  writeFileSync(join(chain, 'a', 'proj', 'm', '0mark'), 'mark\n');
  writeFileSync(join(chain, 'a', 'proj', 'm', 'k', 'x.iso'), 'image\n');
  for (const folder of ['b', 'c', 'd']) mkdirSync(join(chain, folder));
  sleep(80);
  const underBcd = new RegExp(`^${chain.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/[bcd]/.*\\.iso$`);
  const linked = walkWith(chain, [underBcd], (path) => {
    if (path === join(chain, 'a', '0first')) renameSync(join(chain, 'a', 'proj'), join(chain, 'b', 'proj'));
    if (path === join(chain, 'b', 'proj', '0mark')) renameSync(join(chain, 'b', 'proj', 'm'), join(chain, 'c', 'm'));
    if (path === join(chain, 'c', 'm', '0mark')) renameSync(join(chain, 'c', 'm', 'k'), join(chain, 'd', 'k'));
  });
  assert.ok(linked.paths.includes(join(chain, 'd', 'k')), linked.paths.join(', '));
  assert.ok(linked.unreadable.includes(`${join(chain, 'a', 'proj')}: vanished during the backup`), linked.unreadable.join('; '));

  // The fourth review: b/proj/m moved to c/m while b/proj is walked, x.iso left out under c/ only: m's
  // exclusions are refused at b/proj/m (reported), and the folders around it prove nothing either.
  const refused = join(root, 'refused');
  mkdirSync(join(refused, 'a', 'proj', 'm'), { recursive: true });
  writeFileSync(join(refused, 'a', '0first'), 'first\n');
  writeFileSync(join(refused, 'a', 'proj', '0mark'), 'mark\n');
  writeFileSync(join(refused, 'a', 'proj', 'm', 'x.iso'), 'image\n');
  for (const folder of ['b', 'c']) mkdirSync(join(refused, folder));
  sleep(80);
  const underC = new RegExp(`^${refused.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/c/.*\\.iso$`);
  const onlyUnderC = walkWith(refused, [underC], (path) => {
    if (path === join(refused, 'a', '0first')) renameSync(join(refused, 'a', 'proj'), join(refused, 'b', 'proj'));
    if (path === join(refused, 'b', 'proj', '0mark')) renameSync(join(refused, 'b', 'proj', 'm'), join(refused, 'c', 'm'));
  });
  assert.deepEqual(onlyUnderC.unreadable.sort(), [
    `${join(refused, 'a', 'proj')}: vanished during the backup`, `${join(refused, 'b', 'proj', 'm')}: vanished during the backup`,
  ]);
});

test('a file the walk\'s end read and an editor then saved over is read again under its backup name, not skipped as read', (t) => {
  const root = makeRoot(t);
  mkdirSync(join(root, 'p2'));
  writeFileSync(join(root, 'p2', 'old'), 'old\n');
  sleep(80);
  let isMade = false;
  let isSavedOver = false;
  const walked = walkWith(root, [], (path) => {
    // After p2 is listed, x is made: a look at the walk's end finds it.
    if (path === join(root, 'p2', 'old') && !isMade) {
      writeFileSync(join(root, 'p2', 'x'), 'first version\n');
      isMade = true;
    }
    // When the look yields x, before the sender would open it, an editor keeps x as x~ and writes x anew.
    if (path === join(root, 'p2', 'x') && !isSavedOver) {
      renameSync(join(root, 'p2', 'x'), join(root, 'p2', 'x~'));
      writeFileSync(join(root, 'p2', 'x'), 'second version\n');
      isSavedOver = true;
    }
  });
  assert.ok(isMade && isSavedOver);
  assert.ok(walked.paths.includes(join(root, 'p2', 'x~')), `x~ (the first version, read under no name) is walked: ${walked.paths.join(', ')}; ${walked.warnings.join('; ')}`);
  assert.deepEqual(walked.unreadable, []);
});

test('a folder moved where something under it is not walked at its new path proves no move: an include walked on its own, a folder the looks read elsewhere', (t) => {
  const root = makeRoot(t);
  const type = statfsSync(root).type;
  if (!TRUSTED_BIRTH_TIMES.has(type) || !LISTED_NUMBERS_ARE_OWN.has(type)) return t.skip(`no move can be proven on ${root} (statfs type 0x${type.toString(16)})`);

  // An include walked first, on its own, is skipped by the outer walk: a folder moved over its place brings other content.
  const tree = join(root, 'include');
  mkdirSync(join(tree, 'a', 'F', 'sub'), { recursive: true });
  mkdirSync(join(tree, 'x', 'sub'), { recursive: true });
  writeFileSync(join(tree, 'a', '0first'), 'first\n');
  writeFileSync(join(tree, 'a', 'F', 'sub', 'secret.txt'), 'secret\n');
  writeFileSync(join(tree, 'x', 'sub', 'old.txt'), 'old\n');
  sleep(80);
  const walked: string[] = [];
  const unreadable: string[] = [];
  for (const entry of walk({
    includes: [join(tree, 'x', 'sub'), tree], excludeRegex: [], readAllFifos: false, skipPaths: new Set(),
    onWarning: () => undefined, onUnreadable: (path, reason) => unreadable.push(`${path}: ${reason}`),
  })) {
    const path = entry.meta.path.toString();
    walked.push(path);
    if (path === join(tree, 'a', '0first')) {
      renameSync(join(tree, 'x'), join(root, 'x-out'));
      renameSync(join(tree, 'a', 'F'), join(tree, 'x'));
    }
    entry.noteRead();
  }
  assert.ok(!walked.includes(join(tree, 'x', 'sub', 'secret.txt')), `secret.txt is read nowhere: ${walked.join(', ')}`);
  assert.ok(unreadable.includes(`${join(tree, 'a', 'F')}: vanished during the backup`), `F reported: ${unreadable.join('; ')}`);

  // A folder G the looks read at its first place, moved (with a file moved in after its listing) into F's new place.
  const looks = join(root, 'looks');
  mkdirSync(join(looks, 'a', 'F'), { recursive: true });
  writeFileSync(join(looks, 'a', '0first'), 'first\n');
  writeFileSync(join(looks, 'a', 'F', 'x'), 'content\n');
  sleep(80);
  const found = walkWith(looks, [], (path) => {
    if (path === join(looks, 'a', '0first')) {
      renameSync(join(looks, 'a', 'F'), join(looks, 'a', 'F2'));
      mkdirSync(join(looks, 'G'));
      writeFileSync(join(looks, 'G', 'g0'), 'g0\n');
    }
    if (path === join(looks, 'G', 'g0')) {
      renameSync(join(looks, 'a', 'F2', 'x'), join(looks, 'G', 'x'));
      renameSync(join(looks, 'G'), join(looks, 'a', 'F2', 'G'));
    }
  });
  assert.ok(found.paths.includes(join(looks, 'G', 'g0')) && found.paths.includes(join(looks, 'a', 'F2')), `the moves happened as planned: ${found.paths.join(', ')}`);
  assert.ok(!found.paths.some((path) => path.endsWith('/x')), 'x is read nowhere');
  assert.ok(found.unreadable.includes(`${join(looks, 'a', 'F')}: vanished during the backup`), `F reported: ${found.unreadable.join('; ')}`);
});
