// Regression: times after 2262-04-11 overflowed an int64 of nanoseconds in the addon: an mtime in 2446
// was stored as 1861 and restored as 1901, backup and restore both exiting 0. Proves, through the real
// server and CLI, that mtimes past 2262 and before 1970 (with nanoseconds) are stored, listed and
// restored to the exact second and nanosecond, and that the next backup finds them unchanged; a time
// the target's file system clamps (ext4 keeps at most 2446) is reported, exit 3, never restored changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pastRacyWindow } from './support/racy-window';
import { Sandbox } from './support/sandbox';
import { mountTmpfs, tmpfsRefusal, unmountTmpfs } from './support/tmpfs';

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

test('a year-3000 mtime from a tmpfs restores exactly onto a tmpfs; ext4, which clamps it to 2446, is reported (exit 3)', async (t) => {
  const refusal = tmpfsRefusal();
  if (refusal !== undefined) {
    t.skip(refusal);
    return;
  }
  const sandbox = await Sandbox.create();
  const mounted: string[] = [];
  t.after(async () => {
    for (const folder of mounted.reverse()) unmountTmpfs(folder);
    await sandbox.destroy();
  });
  const mount = async (name: string): Promise<string> => {
    const folder = join(sandbox.root, name);
    await mkdir(folder);
    mountTmpfs(folder, '4m');
    mounted.push(folder);
    return folder;
  };
  const data = await mount('data');
  const file = join(data, 'year-3000');
  const mtimeNs = 32_503_680_000n * SECOND + 250_000_000n;
  await writeFile(file, 'far\n');
  execFileSync('touch', ['-d', touchTime(mtimeNs), file]);
  assert.equal(statSync(file, { bigint: true }).mtimeNs, mtimeNs, 'tmpfs holds the year 3000');
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const backup = await sandbox.runClient(['-c', config, '-e']);
  assert.equal(backup.code, 0, backup.stdout + backup.stderr);

  const onTmpfs = await mount('restored-tmpfs');
  const exact = await sandbox.runClient(['-c', config, '-i', '1', '--to', onTmpfs]);
  assert.equal(exact.code, 0, exact.stdout + exact.stderr);
  assert.equal(statSync(join(onTmpfs, file), { bigint: true }).mtimeNs, mtimeNs);

  const onExt4 = join(sandbox.root, 'restored-ext4');
  const clamped = await sandbox.runClient(['-c', config, '-i', '1', '--to', onExt4]);
  const kept = statSync(join(onExt4, file), { bigint: true }).mtimeNs;
  if (kept === mtimeNs) {
    t.diagnostic(`the file system under ${onExt4} holds the year 3000: nothing to report`);
    assert.equal(clamped.code, 0, clamped.stdout + clamped.stderr);
    return;
  }
  assert.equal(clamped.code, 3, clamped.stdout + clamped.stderr);
  assert.match(clamped.stdout + clamped.stderr, /year-3000.*kept mtime -?\d+ s for 32503680000 s/, 'the clamped time is named');
});
