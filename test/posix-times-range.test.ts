// Regression: fstatat's times were joined into one int64 of nanoseconds in the addon, which overflows
// after 2262-04-11: an ext4 mtime of 15032385535 s (2446) was recorded as -3414358539 s (1861) and the
// backup exited 0; the setter took the same int64 and refused such a time on restore. Proves every time
// a file system holds reads and sets exactly, before 1970 too, and one it clamps is reported.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { entryMetaFromStat } from '../src/client/entry-meta';
import { openAt, posixConstants, statAt, statFd } from '../src/client/posix/at';
import { OwnerNames } from '../src/client/posix/owners';
import { setTimesAt, setTimesFd } from '../src/client/posix/times';
import { applyMetadata } from '../src/client/restore-tree/metadata';
import { EntryType } from '../src/proto/cpsbackup';
import { posixWorkspace } from './support/posix-workspace';

const SECOND = 1_000_000_000n;
/** ext4's last second (2446-05-10T22:38:55Z), and its first (1901-12-13T20:45:52Z, -2^31): clamped to them, a time loses its nanoseconds. */
const EXT4_LAST = 15_032_385_535n;
const EXT4_FIRST = -(2n ** 31n);

const space = posixWorkspace('posix-times-range');

/** Why this file system cannot take the time (Node's own stat reads it back), or undefined when it can. */
function refusal(name: string, timeNs: bigint): string | undefined {
  const kept = statSync(join(space.path, name), { bigint: true }).mtimeNs;
  return kept === timeNs ? undefined : `the file system under ${space.path} keeps ${kept} ns for ${timeNs} ns`;
}

test('a year-2446 mtime set by touch is read exactly, into the entry\'s seconds and nanoseconds', (t) => {
  const path = join(space.path, 'far-future');
  writeFileSync(path, 'x');
  execFileSync('touch', ['-m', '-d', `@${EXT4_LAST}`, path]);
  const expected = EXT4_LAST * SECOND;
  const reason = refusal('far-future', expected);
  if (reason !== undefined) {
    t.skip(reason);
    return;
  }
  const stats = statAt(space.fd, 'far-future');
  assert.equal(stats.mtimeNs, expected);
  const meta = entryMetaFromStat(Buffer.from('/far-future'), EntryType.ENTRY_TYPE_FILE, stats, new OwnerNames());
  assert.deepEqual([meta.mtimeSec, meta.mtimeNsec], [15_032_385_535, 0]);
});

test('times past 2262 and before 1970 are set and read to the nanosecond, by name and by fd', (t) => {
  const times = [
    ['2300-01-01T00:00:00.123456789Z', 10_413_792_000n * SECOND + 123_456_789n],
    ['2446-05-10T22:38:54.999999999Z, a second before ext4\'s last', (EXT4_LAST - 1n) * SECOND + 999_999_999n],
    ['1969-12-31T23:59:59.5Z', -SECOND + 500_000_000n],
    ['1901-12-13T20:45:53.000000001Z, a second after ext4\'s first', (EXT4_FIRST + 1n) * SECOND + 1n],
    ['1900-01-01T00:00:00.000000001Z (ext4 clamps it)', -2_208_988_800n * SECOND + 1n],
  ] as const;
  writeFileSync(join(space.path, 'timed'), 'x');
  const fd = openAt(space.fd, 'timed', posixConstants().O_RDONLY);
  t.after(() => closeSync(fd));
  for (const [label, timeNs] of times) {
    setTimesAt(space.fd, 'timed', { atimeNs: timeNs, mtimeNs: timeNs });
    const reason = refusal('timed', timeNs);
    if (reason !== undefined) {
      t.diagnostic(`${label} not checked: ${reason}`);
      continue;
    }
    const stats = statAt(space.fd, 'timed');
    assert.equal(stats.mtimeNs, timeNs, `${label}: mtime by name`);
    assert.equal(stats.atimeNs, timeNs, `${label}: atime by name`);
    setTimesFd(fd, { mtimeNs: 5n });
    setTimesFd(fd, { mtimeNs: timeNs });
    assert.equal(statFd(fd).mtimeNs, timeNs, `${label}: mtime by fd`);
  }
});

test('seconds beyond 64 bits are refused, never wrapped', () => {
  writeFileSync(join(space.path, 'too-far'), 'x');
  const before = statAt(space.fd, 'too-far').mtimeNs;
  assert.throws(() => setTimesAt(space.fd, 'too-far', { mtimeNs: 2n ** 63n * SECOND }), /within 64 bits/);
  assert.equal(statAt(space.fd, 'too-far').mtimeNs, before);
});

test('a time the file system clamps is a restore failure, not another time', (t) => {
  writeFileSync(join(space.path, 'clamped'), 'x');
  const year3000 = 32_503_680_000n * SECOND;
  const owners = new OwnerNames();
  const failures = applyMetadata({ dirfd: space.fd, name: Buffer.from('clamped'), isSymlink: false, isFolder: false }, { mtimeNs: year3000 }, owners);
  if (refusal('clamped', year3000) === undefined) {
    assert.deepEqual(failures, []);
    t.skip(`the file system under ${space.path} holds the year 3000`);
    return;
  }
  assert.equal(failures.length, 1, 'one failure');
  assert.equal(failures[0].step, 'times');
  assert.match(failures[0].error.message, /kept mtime \d+ s for 32503680000 s/);
});
