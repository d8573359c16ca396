// What proves that a name gone when read was a file moved, and read in its new place (moved-entries.ts):
// the same device and inode number, read after the name showed it, born before; and what does not: a
// file born after (a freed number given again), one read before, another inode under the name read, a
// wall clock stepped back during the backup (the times compared are wall-clock times).
import { test } from 'node:test';
import { performance } from 'node:perf_hooks';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, realpathSync, renameSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LISTED_NUMBERS_ARE_OWN, MovedEntries, TRUSTED_BIRTH_TIMES } from '../src/client/moved-entries';
import { birthAt, statAt, statFd } from '../src/client/posix/at';
import { removeTree } from './support/remove-tree';

const sleep = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

/** A fresh folder, held open, where a file made now is past the birth margin 80 ms later. */
function folder(t: { after(fn: () => void): void }): { path: string; fd: number } {
  const path = realpathSync(mkdtempSync(join(tmpdir(), 'cpsbackup-moved-')));
  const fd = openSync(path, 'r');
  t.after(() => {
    closeSync(fd);
    removeTree(path);
  });
  return { path, fd };
}

/** Where birth times are not kept or not trusted, nothing can be proven: said, not faked. */
function birthTimesKept(fd: number, name: string): string | undefined {
  const type = statfsSync(tmpdir()).type;
  if (!TRUSTED_BIRTH_TIMES.has(type)) return `${tmpdir()} is on a file system whose birth times prove nothing (statfs type 0x${type.toString(16)})`;
  if (birthAt(fd, name).bornNs === undefined) return `no birth times on ${tmpdir()} (statfs type 0x${type.toString(16)})`;
  return undefined;
}

/** a made, old enough; its name shown (as a listing would) and gone; returns what the name showed. */
function shownThenMoved(dir: { path: string; fd: number }, moved: MovedEntries): { reason: string | undefined; shown: ReturnType<typeof statAt> } {
  writeFileSync(join(dir.path, 'a'), 'a\n');
  sleep(80);
  const reason = birthTimesKept(dir.fd, 'a');
  const shown = statAt(dir.fd, 'a');
  moved.nameVanished(Buffer.from(join(dir.path, 'a')), shown.dev, shown.ino, Date.now(), moved.currentStep);
  renameSync(join(dir.path, 'a'), join(dir.path, 'b'));
  return { reason, shown };
}

test('a file read in its new place after its name was shown proves the move: not reported', (t) => {
  const dir = folder(t);
  const moved = new MovedEntries(Date.now());
  const { reason } = shownThenMoved(dir, moved);
  if (reason !== undefined) return t.skip(reason);
  moved.read(dir.fd, 'b', statAt(dir.fd, 'b'), moved.nextStep());
  const reported: string[] = [];
  const warning = moved.settle((path) => reported.push(path));
  assert.deepEqual(reported, []);
  assert.equal(warning, `1 entry gone during the backup from where the walk listed it (${join(dir.path, 'a')}) read elsewhere: moved, or another link of the same file; in this backup there`);
});

// Regression: the clock's lead was one Date.now() less one performance.now(); on a busy machine (load 14 on two
// cores) the process paused between them, the pause read as the wall clock stepping back, and every moved file of
// the backup was reported vanished (walk-moves-random failed so under load).
test('a pause between reading the wall clock and the monotonic one is no step back: the move is still proven', (t) => {
  const dir = folder(t);
  const moved = new MovedEntries(Date.now());
  const { reason } = shownThenMoved(dir, moved);
  if (reason !== undefined) return t.skip(reason);
  const now = Date.now;
  const monotonic = performance.now.bind(performance);
  let paused = 0;
  // Each wall-clock reading is followed by a 100 ms pause before the next monotonic one.
  Date.now = () => {
    paused += 100;
    return now();
  };
  performance.now = () => monotonic() + paused;
  try {
    moved.read(dir.fd, 'b', statAt(dir.fd, 'b'), moved.nextStep());
  } finally {
    Date.now = now;
    performance.now = monotonic;
  }
  const reported: string[] = [];
  assert.match(moved.settle((path) => reported.push(path)) ?? '', /read elsewhere: moved/);
  assert.deepEqual(reported, []);
});

test('no proof: a file born after the name showed its number, one read before, another inode under the name read, a clock stepped back', async (t) => {
  const dir = folder(t);
  const cases: Record<string, (moved: MovedEntries) => void> = {
    'born after': (moved) => {
      writeFileSync(join(dir.path, 'old'), 'old\n');
      sleep(80);
      const shown = statAt(dir.fd, 'old');
      moved.nameVanished(Buffer.from(join(dir.path, 'old')), shown.dev, shown.ino, Date.now() - 200, moved.currentStep);
      // As if a file made now had been given the number: its own birth is after the moment shown.
      moved.read(dir.fd, 'old', shown, moved.nextStep());
    },
    'read before': (moved) => {
      writeFileSync(join(dir.path, 'early'), 'early\n');
      sleep(80);
      const stats = statAt(dir.fd, 'early');
      moved.read(dir.fd, 'early', stats, moved.nextStep());
      moved.nameVanished(Buffer.from(join(dir.path, 'early')), stats.dev, stats.ino, Date.now(), moved.currentStep);
    },
    'another inode under the name': (moved) => {
      // An old file (born before the name was shown, as the moved one), renamed over b.
      writeFileSync(join(dir.path, 'b.old'), 'old\n');
      const { shown } = shownThenMoved(dir, moved);
      // Found at b by the walk, then saved over before it was read: what is read is another file.
      renameSync(join(dir.path, 'b.old'), join(dir.path, 'b'));
      moved.read(dir.fd, 'b', shown, moved.nextStep());
    },
    'clock stepped forward, the name shown, then back': (moved) => {
      const now = Date.now;
      Date.now = () => now() + 3_600_000;
      let shownAtMs: number;
      try {
        shownAtMs = moved.now();
      } finally {
        Date.now = now;
      }
      // A file made after the name was shown (given its number), read once the clock is back.
      writeFileSync(join(dir.path, 'later'), 'later\n');
      const stats = statAt(dir.fd, 'later');
      moved.nameVanished(Buffer.from(join(dir.path, 'gone')), stats.dev, stats.ino, shownAtMs, moved.currentStep);
      moved.read(dir.fd, 'later', stats, moved.nextStep());
    },
    'clock stepped back': (moved) => {
      shownThenMoved(dir, moved);
      moved.read(dir.fd, 'b', statAt(dir.fd, 'b'), moved.nextStep());
      const now = Date.now;
      Date.now = () => now() - 300;
      try {
        moved.nameVanished(Buffer.from('/elsewhere'), 0n, 0n, Date.now(), moved.currentStep);
      } finally {
        Date.now = now;
      }
    },
  };
  writeFileSync(join(dir.path, 'probe'), '');
  const reason = birthTimesKept(dir.fd, 'probe');
  if (reason !== undefined) return t.skip(reason);
  for (const [name, run] of Object.entries(cases)) {
    const moved = new MovedEntries(Date.now() - 5_000);
    run(moved);
    const reported: string[] = [];
    const warning = moved.settle((path) => reported.push(path));
    assert.equal(warning, undefined, `${name}: nothing proven moved`);
    assert.ok(reported.length >= 1, `${name}: the name is reported vanished`);
  }
});

test('a listed number is kept only where listings give an entry its own number: elsewhere (here procfs, as btrfs lists a subvolume by its id, tmpfs may wrap) the name is reported at once', (t) => {
  const dir = folder(t);
  const moved = new MovedEntries(Date.now());
  const local = statFd(dir.fd);
  assert.equal(moved.listedNameVanished(dir.fd, local, Buffer.from(join(dir.path, 'x')), 1n, Date.now(), 0), [0xef53, 0x58465342, 0xf2f52010].includes(statfsSync(dir.path).type),
    'kept where the folder is on ext2/3/4, XFS or F2FS');
  assert.deepEqual([...LISTED_NUMBERS_ARE_OWN].sort(), [0xef53, 0x58465342, 0xf2f52010].sort());
  const procFd = openSync('/proc', 'r');
  t.after(() => closeSync(procFd));
  assert.equal(moved.listedNameVanished(procFd, statFd(procFd), Buffer.from('/proc/gone'), 1n, Date.now(), 0), false, 'not kept on procfs: the caller reports it');
});

test('a mount point\'s listed number is the folder it covers, not what was read there: a mount point gone proves nothing', (t) => {
  const rootFd = openSync('/', 'r');
  t.after(() => closeSync(rootFd));
  const type = statfsSync('/').type;
  if (!LISTED_NUMBERS_ARE_OWN.has(type)) return t.skip(`/ is on a file system whose listed numbers are not kept (statfs type 0x${type.toString(16)})`);
  const moved = new MovedEntries(Date.now());
  assert.equal(moved.listedNameVanished(rootFd, statFd(rootFd), Buffer.from('/proc'), 1n, Date.now(), 0), false, '/proc, mounted on: reported at once');
  assert.equal(moved.listedNameVanished(rootFd, statFd(rootFd), Buffer.from('/no-such-name'), 1n, Date.now(), 0), true, 'a plain name: kept for the walk\'s end');
});

test('a folder with names left out below it proves its old name only where the same rules leave them out under that name', (t) => {
  for (const [rule, isProven] of [['at both paths', true], ['at the new path only', false], ['asked of no rule', false]] as const) {
    const dir = folder(t);
    const moved = new MovedEntries(Date.now());
    const { reason } = shownThenMoved(dir, moved);
    if (reason !== undefined) return t.skip(reason);
    const step = moved.nextStep();
    const stats = statAt(dir.fd, 'b');
    moved.read(dir.fd, 'b', stats, step);
    const mark = moved.excluded.mark();
    moved.excluded.note(Buffer.from(join(dir.path, 'b', 'node_modules')));
    moved.leftOutBelow(stats, step, Buffer.from(join(dir.path, 'b')), moved.excluded.since(mark)!);
    const reported: string[] = [];
    const asked: string[] = [];
    const isLeftOut = (path: Buffer): boolean => {
      asked.push(path.toString());
      return rule === 'at both paths' ? path.toString().endsWith('/node_modules') : path.toString().startsWith(join(dir.path, 'b'));
    };
    if (rule === 'asked of no rule') moved.settle((path) => reported.push(path));
    else moved.settle((path) => reported.push(path), isLeftOut);
    assert.deepEqual(reported, isProven ? [] : [join(dir.path, 'a')], rule);
    if (rule !== 'asked of no rule') assert.deepEqual(asked, [join(dir.path, 'a', 'node_modules')], rule);
  }
});

test('the exclusions asked under old names are bounded: past 256 MiB of paths, a folder with exclusions proves nothing', (t) => {
  const dir = folder(t);
  const moved = new MovedEntries(Date.now());
  const { reason, shown } = shownThenMoved(dir, moved);
  if (reason !== undefined) return t.skip(reason);
  // The folder's walk: 10,000 long names excluded below it; then the same inode shown by 100 more names, all gone.
  const step = moved.nextStep();
  const stats = statAt(dir.fd, 'b');
  moved.read(dir.fd, 'b', stats, step);
  const mark = moved.excluded.mark();
  const long = 'x'.repeat(300);
  for (let index = 0; index < 10_000; index++) moved.excluded.note(Buffer.from(join(dir.path, 'b', `${long}${index}`)));
  moved.leftOutBelow(stats, step, Buffer.from(join(dir.path, 'b')), moved.excluded.since(mark)!);
  const shownAt = Date.now();
  for (let index = 0; index < 100; index++) moved.nameVanished(Buffer.from(join(dir.path, `old${index}`)), shown.dev, shown.ino, shownAt, step - 1);
  let askedBytes = 0;
  let checks = 0;
  const reported: string[] = [];
  moved.settle((path) => reported.push(path), (path) => { askedBytes += path.length; checks++; return true; });
  // Each check costs its path's bytes and 64 more: the budget stops before 256 MiB of both.
  assert.ok(askedBytes + 64 * checks <= 256 * 1024 * 1024, `${askedBytes} bytes asked in ${checks} checks`);
  assert.ok(askedBytes + 64 * (checks + 10_000) > 256 * 1024 * 1024 - 10_000 * 512, 'the budget is spent, not stopped early');
  // About 4 MB a name (its paths' bytes and 64 a check): the first sixty or so are proven, the rest reported.
  assert.ok(reported.length > 20 && reported.length < 50, `${reported.length} reported`);
  assert.ok(!reported.includes(join(dir.path, 'a')) && reported.includes(join(dir.path, 'old99')), reported.join(', '));
});

test('exclusions are kept only under a folder changed since the backup began: nothing else may prove a move', (t) => {
  const dir = folder(t);
  const start = Date.now();
  const moved = new MovedEntries(start);
  const folderStats = statFd(dir.fd);
  // The folder as it was a minute before the backup began, then as changed during it.
  moved.enterFolder({ ...folderStats, ctimeNs: BigInt(start - 60_000) * 1_000_000n });
  moved.excludedHere(Buffer.from(join(dir.path, 'quiet', 'node_modules')));
  assert.equal(moved.excluded.mark().kept, 0);
  moved.enterFolder({ ...folderStats, ctimeNs: BigInt(start) * 1_000_000n });
  moved.excludedHere(Buffer.from(join(dir.path, 'changed', 'node_modules')));
  moved.leaveFolder();
  assert.equal(moved.excluded.mark().kept, 1);
  moved.leaveFolder();
  moved.excludedHere(Buffer.from(join(dir.path, 'outside', 'node_modules')));
  assert.equal(moved.excluded.mark().kept, 1);
});
