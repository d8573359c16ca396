// How the client gathers unchanged files into carried runs: a run is a gapless stretch of the
// parent's path order, whatever order the walk visits it in, and never longer than a run holds; a
// file joins one only if every field its entry stores is the parent's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, type CarriedRun, type EntryMeta } from '../src/proto/cpsbackup';
import { CarriedRuns } from '../src/client/carried-runs';
import { isCarriable, isUnchanged } from '../src/client/entry-meta';

/** Feeds (path, rank) pairs and returns every run sent, the last one included. */
function runsOf(files: readonly (readonly [string, number])[], maxRun?: number): { first: string; last: string; count: number }[] {
  const runs = new CarriedRuns(maxRun);
  const sent: CarriedRun[] = [];
  for (const [path, rank] of files) {
    const closed = runs.add(Buffer.from(path), rank);
    if (closed) sent.push(closed);
  }
  const last = runs.close();
  if (last) sent.push(last);
  assert.equal(runs.close(), undefined, 'closing twice sends nothing more');
  return sent.map((run) => ({ first: run.firstPath.toString(), last: run.lastPath.toString(), count: run.count }));
}

test('files in path order make one run', () => {
  assert.deepEqual(runsOf([['/d/a', 0], ['/d/b', 1], ['/d/c', 2]]), [{ first: '/d/a', last: '/d/c', count: 3 }]);
  assert.deepEqual(runsOf([]), []);
});

test('walk order that is not path order ("a/x" walked before "a.txt") still makes one gapless run', () => {
  // Path order: /d/a.txt (0) < /d/a/x (1) < /d/a/y (2) < /d/b (3); the walk visits the folder a first.
  assert.deepEqual(runsOf([['/d/a/x', 1], ['/d/a/y', 2], ['/d/a.txt', 0], ['/d/b', 3]]), [{ first: '/d/a.txt', last: '/d/b', count: 4 }]);
});

test('a parent file left out (changed, deleted, hard-linked) closes the run around it', () => {
  assert.deepEqual(runsOf([['/d/a', 0], ['/d/b', 1], ['/d/d', 3], ['/d/e', 4]]), [
    { first: '/d/a', last: '/d/b', count: 2 }, { first: '/d/d', last: '/d/e', count: 2 },
  ]);
  // A file whose rank lies before the run but not next to it starts a new run too.
  assert.deepEqual(runsOf([['/d/c', 2], ['/d/a', 0]]), [{ first: '/d/c', last: '/d/c', count: 1 }, { first: '/d/a', last: '/d/a', count: 1 }]);
});

test('the same rank twice never joins a run (the server then refuses the path sent twice)', () => {
  assert.deepEqual(runsOf([['/d/a', 0], ['/d/b', 1], ['/d/b', 1]]), [{ first: '/d/a', last: '/d/b', count: 2 }, { first: '/d/b', last: '/d/b', count: 1 }]);
});

test('a run stops at the most a run holds and the next file starts another', () => {
  const files = Array.from({ length: 7 }, (_, rank) => [`/d/${rank}`, rank] as const);
  assert.deepEqual(runsOf(files, 3), [
    { first: '/d/0', last: '/d/2', count: 3 }, { first: '/d/3', last: '/d/5', count: 3 }, { first: '/d/6', last: '/d/6', count: 1 },
  ]);
});

test('a file is carried only when every field its entry stores equals the parent\'s, with one link', () => {
  const parent: EntryMeta = {
    path: Buffer.from('/d/a'), type: EntryType.ENTRY_TYPE_FILE, mode: 0o644, uid: 1000, gid: 100, user: 'alice', group: 'users',
    mtimeSec: 1_700_000_000, mtimeNsec: 5, ctimeSec: 1_700_000_001, ctimeNsec: 6, inode: 42, device: 2049, nlink: 1, rdev: 0, size: 10,
    linkTarget: Buffer.alloc(0), xattrs: [], extents: [], hardlinkTarget: Buffer.alloc(0), inodeFlags: 0, inodeFlagsKnown: false, damage: '',
  };
  assert.ok(isUnchanged(parent, parent) && isCarriable(parent, parent));
  const differences: Partial<EntryMeta>[] = [
    { uid: 1001 }, { gid: 101 }, { user: 'bob' }, { group: 'staff' }, { device: 2050 }, { nlink: 2 },
  ];
  for (const difference of differences) {
    const current = { ...parent, ...difference };
    assert.ok(isUnchanged(current, parent), `${JSON.stringify(difference)} leaves the content unchanged`);
    assert.ok(!isCarriable(current, parent), `${JSON.stringify(difference)} is not carried`);
  }
  assert.ok(!isCarriable(parent, { ...parent, nlink: 2 }), 'a parent entry with two links is not carried');
  for (const difference of [{ size: 11 }, { mtimeNsec: 7 }, { ctimeSec: 1 }, { inode: 43 }, { mode: 0o600 }] as Partial<EntryMeta>[]) {
    assert.ok(!isUnchanged({ ...parent, ...difference }, parent), `${JSON.stringify(difference)} is a change`);
  }
});
