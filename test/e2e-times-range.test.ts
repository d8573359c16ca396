// Regression: times after 2262-04-11 overflowed an int64 of nanoseconds in the addon: an mtime in 2446
// was stored as 1861 and restored as 1901, backup and restore both exiting 0. Proves, through the real
// server and CLI, that mtimes past 2262 and before 1970 (with nanoseconds) are stored, listed and
// restored to the exact second and nanosecond, and that the next backup finds them unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pastRacyWindow } from './support/racy-window';
import { Sandbox } from './support/sandbox';

const SECOND = 1_000_000_000n;

/** Name → mtime in nanoseconds since the epoch. */
const MTIMES: ReadonlyMap<string, bigint> = new Map([
  ['2300-01-01T00:00:00.123456789Z', 10_413_792_000n * SECOND + 123_456_789n],
  ['2446-05-10T00:00:00.987654321Z', 15_032_304_000n * SECOND + 987_654_321n],
  ['1901-12-14T00:00:00.000000007Z', -2_147_472_000n * SECOND + 7n],
  ['1969-12-31T23:59:59.5Z', -SECOND + 500_000_000n],
]);

/** touch's @seconds.fraction for a time, so the times are set by a tool other than the one under test. */
function touchTime(timeNs: bigint): string {
  const magnitude = timeNs < 0n ? -timeNs : timeNs;
  return `@${timeNs < 0n ? '-' : ''}${magnitude / SECOND}.${String(magnitude % SECOND).padStart(9, '0')}`;
}

function secondsAndNanoseconds(timeNs: bigint): [bigint, bigint] {
  const seconds = timeNs / SECOND - (timeNs % SECOND < 0n ? 1n : 0n);
  return [seconds, timeNs - seconds * SECOND];
}

interface JsonEntry { readonly path: string; readonly mtime: string; readonly mtimeNs: string }

test('mtimes past 2262 and before 1970 are backed up, found unchanged, listed and restored to the nanosecond', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  for (const [name, mtimeNs] of MTIMES) {
    await writeFile(join(data, name), `${name}\n`);
    execFileSync('touch', ['-d', touchTime(mtimeNs), join(data, name)]);
    const kept = statSync(join(data, name), { bigint: true }).mtimeNs;
    if (kept !== mtimeNs) {
      t.skip(`the file system under ${data} keeps ${kept} ns for ${name}`);
      return;
    }
  }
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  await pastRacyWindow();
  const backup = await sandbox.runClient(['-c', config, '-e']);
  assert.equal(backup.code, 0, backup.stdout + backup.stderr);
  // The unchanged check compares the stored seconds and nanoseconds with a new stat's.
  const again = await sandbox.runClient(['-c', config, '-e']);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.equal(/(\d+) unchanged/.exec(again.stdout)?.[1], String(MTIMES.size), `every file is found unchanged: ${again.stdout}`);

  const show = await sandbox.runClient(['-c', config, '-s', '1', '--json']);
  assert.equal(show.code, 0, show.stdout + show.stderr);
  const listed = new Map((JSON.parse(show.stdout) as { entries: JsonEntry[] }).entries.map((entry) => [entry.path, entry]));
  for (const [name, mtimeNs] of MTIMES) {
    const entry = listed.get(join(data, name));
    assert.ok(entry, `${name} is listed`);
    assert.equal(entry.mtimeNs, String(mtimeNs), `${name}: the stored mtime`);
    assert.equal(entry.mtime, new Date(Number(mtimeNs / 1_000_000n) - (mtimeNs % 1_000_000n < 0n ? 1 : 0)).toISOString(), `${name}: listed as its date`);
  }

  const target = join(sandbox.root, 'restored');
  const restore = await sandbox.runClient(['-c', config, '-i', '1', '--to', target]);
  assert.equal(restore.code, 0, restore.stdout + restore.stderr);
  for (const [name, mtimeNs] of MTIMES) {
    const restored = statSync(join(target, data, name), { bigint: true });
    assert.deepEqual(secondsAndNanoseconds(restored.mtimeNs), secondsAndNanoseconds(mtimeNs), `${name}: restored seconds and nanoseconds`);
  }
});
