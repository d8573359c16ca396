// Retention: backupsToKeep's burp semantics applied backup after backup (keep=3, keep=7/4, keep=7/4/6,
// keep_days), and end to end: keep=2 on a real server, -d with and without --force, disk space given back (by the GC after the reply).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { backupsToKeep, type RetentionCandidate, type RetentionPolicy } from '../src/server/retention/retention-decisions';
import { Sandbox } from './support/sandbox';
import { writeDeterministicFile } from './support/trees';

const execFileAsync = promisify(execFile);
const DAY = 24 * 3600 * 1000;
const MEBIBYTE = 1024 * 1024;

/** Runs retention after each new backup, as the server does, and returns the kept numbers after each. */
function keptAfterEachBackup(count: number, policy: RetentionPolicy): number[][] {
  let existing: RetentionCandidate[] = [];
  const history: number[][] = [];
  for (let number = 1; number <= count; number++) {
    existing = [...existing, { number, finishedAt: number }];
    const kept = backupsToKeep(existing, policy, count);
    existing = existing.filter((backup) => kept.has(backup.number));
    history.push(existing.map((backup) => backup.number));
  }
  return history;
}

/** The closed form of burp's rule: level i keeps the newest keep[i] numbers that are multiples of keep[0]*…*keep[i-1]. */
function expectedKept(newest: number, keep: readonly number[]): number[] {
  const kept = new Set<number>();
  let interval = 1;
  for (const count of keep) {
    const multiples: number[] = [];
    for (let number = newest; number >= 1 && multiples.length < count; number--) if (number % interval === 0) multiples.push(number);
    for (const number of multiples) kept.add(number);
    interval *= count;
  }
  return [...kept].sort((a, b) => a - b);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, index) => from + index);
}

test('keep=3 keeps the newest three after every backup', () => {
  keptAfterEachBackup(40, { keep: [3] }).forEach((kept, index) => {
    const newest = index + 1;
    assert.deepEqual(kept, range(Math.max(1, newest - 2), newest), `after backup ${newest}`);
  });
});

test('keep=7, keep=4: the newest 7 plus the newest 4 multiples of 7, after each of 40 backups', () => {
  const history = keptAfterEachBackup(40, { keep: [7, 4] });
  history.forEach((kept, index) => assert.deepEqual(kept, expectedKept(index + 1, [7, 4]), `after backup ${index + 1}`));
  assert.deepEqual(history[6], range(1, 7));
  assert.deepEqual(history[7], range(2, 8));
  assert.deepEqual(history[14], [7, ...range(9, 15)]);
  assert.deepEqual(history[39], [14, 21, 28, ...range(34, 40)]);
});

test('keep=7, keep=4, keep=6 adds multiples of 28 that outlive the weekly level', () => {
  const history = keptAfterEachBackup(100, { keep: [7, 4, 6] });
  history.forEach((kept, index) => assert.deepEqual(kept, expectedKept(index + 1, [7, 4, 6]), `after backup ${index + 1}`));
  assert.deepEqual(history[99], [28, 56, 77, 84, 91, ...range(94, 100)]);
});

test('keep_days drops older backups but never the newest', () => {
  const now = 100 * DAY;
  const candidates = [5, 3, 1.5, 0.5].map((age, index) => ({ number: index + 1, finishedAt: now - age * DAY }));
  assert.deepEqual([...backupsToKeep(candidates, { keep: [10], keepDays: 2 }, now)].sort(), [3, 4]);
  assert.deepEqual([...backupsToKeep(candidates, { keep: [2], keepDays: 4 }, now)].sort(), [3, 4]);
  const allOld = candidates.map((backup) => ({ ...backup, finishedAt: now - 30 * DAY }));
  assert.deepEqual([...backupsToKeep(allOld, { keep: [10], keepDays: 1 }, now)], [4]);
  assert.deepEqual([...backupsToKeep([], { keep: [3], keepDays: 1 }, now)], []);
});

/** What the store's data takes; its fixed space reserve (space-reserve.ts) is not data. */
async function diskUsage(folder: string): Promise<number> {
  const { stdout } = await execFileAsync('du', ['-sk', `--exclude=${folder}/reserve`, folder]);
  return Number(stdout.split('\t')[0]) * 1024;
}

test('keep=2 on a real server; -d frees the space of unique content; the newest needs --force', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  await sandbox.rewriteServerConfig(['keep = 2']);
  await sandbox.startServer();
  const data = join(sandbox.root, 'data');
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const client = (args: string[]) => sandbox.runClient(['-c', config, ...args]);
  const run = async (args: string[]): Promise<string> => {
    const result = await client(args);
    assert.equal(result.code, 0, `cpsbackup ${args.join(' ')} failed:\n${result.stdout}${result.stderr}`);
    return result.stdout;
  };
  const listedIds = async (): Promise<number[]> => (JSON.parse(await run(['-l', '--json'])) as { id: number }[]).map((backup) => backup.id);
  const fileSize = 4 * MEBIBYTE;

  for (let number = 1; number <= 4; number++) {
    // Incompressible content unique to each backup, so deleting a backup must give its bytes back.
    await writeDeterministicFile(join(data, 'unique.bin'), `backup ${number}`, fileSize);
    assert.match(await run(['-e']), new RegExp(`^Backup 000000${number} done`));
  }

  await t.test('-l shows only the last two', async () => {
    assert.deepEqual(await listedIds(), [3, 4]);
    const lines = (await run(['-l'])).trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0], /^Backup: 0000003 .*\(deletable\)$/);
    assert.match(lines[1], /^Backup: 0000004 \S+ \S+ complete$/);
  });

  await t.test('the store holds about two backups, not four, once GC after retention is done', async () => {
    // GC runs after the commit has been acknowledged, so wait for it instead of assuming it finished.
    let usage = await diskUsage(sandbox.storeDirectory);
    for (let attempt = 0; attempt < 100 && usage >= 3 * fileSize; attempt++) {
      await sleep(100);
      usage = await diskUsage(sandbox.storeDirectory);
    }
    assert.ok(usage < 3 * fileSize, `store uses ${usage} bytes for two backups of ${fileSize} unique bytes each`);
  });

  /** What the store's disk usage fell by once the GC a deletion made due has freed at least `expected`, or after 10 s. */
  const freedSince = async (before: number, expected: number): Promise<number> => {
    // GC runs after the deletion's reply (its time would tell the client what others hold), so wait for it.
    let freed = before - await diskUsage(sandbox.storeDirectory);
    for (let attempt = 0; attempt < 100 && freed < expected; attempt++) {
      await sleep(100);
      freed = before - await diskUsage(sandbox.storeDirectory);
    }
    return freed;
  };

  await t.test('-d of an old backup removes it and frees its unique content', async () => {
    const before = await diskUsage(sandbox.storeDirectory);
    assert.match(await run(['-d', '3']), /^Deleted backup 0000003; [\d.]+ MiB of this client's data \(uncompressed\) no longer referenced$/m);
    assert.deepEqual(await listedIds(), [4]);
    const freed = await freedSince(before, fileSize * 0.9);
    assert.ok(freed >= fileSize * 0.9, `deleting backup 3 freed ${freed} bytes of ${before}`);
  });

  await t.test('-d of the newest backup is refused without --force', async () => {
    const refused = await client(['-d', '4']);
    assert.equal(refused.code, 12, refused.stderr);
    assert.match(refused.stderr, /newest backup .*--force/);
    assert.deepEqual(await listedIds(), [4]);
  });

  await t.test('-d --force deletes the newest backup and frees its content', async () => {
    const before = await diskUsage(sandbox.storeDirectory);
    await run(['-d', '4', '--force']);
    assert.deepEqual(await listedIds(), []);
    const freed = await freedSince(before, fileSize * 0.9);
    assert.ok(freed >= fileSize * 0.9, `deleting backup 4 freed ${freed} bytes of ${before}`);
  });
});
