// The receiver's pure plan (which backups to load after the last applied one), its state file
// (atomic, refuses garbage) and its lock (one receive per client; a dead owner's lock is taken over).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planReceive } from '../src/client/receiver/receive-plan';
import { acquireReceiveLock } from '../src/client/receiver/receive-lock';
import { readReceiveState, receiveFolder, writeReceiveState, type ReceiveState } from '../src/client/receiver/receive-state';
import { BusyError, CorruptError, NotFoundError } from '../src/common/errors';
import { BackupKind, type BackupSummary } from '../src/proto/cpsbackup';

/** 'C' complete, 'p' partial, numbered from 1; `missing` numbers are left out (failed or deleted backups). */
function backups(kinds: string, missing: readonly number[] = []): BackupSummary[] {
  return [...kinds].flatMap((kind, index) => (missing.includes(index + 1) ? [] : [{
    backupId: index + 1, startedAtMs: (index + 1) * 1000, finishedAtMs: (index + 1) * 1000 + 500, files: 1,
    logicalBytes: 1, newBytes: 1, storedBytes: 1, labels: {}, deletable: true, unreadableFiles: 0, isProtected: false, hostname: 'prod',
    kind: kind === 'p' ? BackupKind.BACKUP_KIND_PARTIAL : BackupKind.BACKUP_KIND_COMPLETE,
  }]));
}

const ids = (plan: readonly BackupSummary[]): number[] => plan.map((backup) => backup.backupId);

test('plan: first receive loads the newest complete backup and the partials after it', () => {
  assert.deepEqual(ids(planReceive(backups('CppCpp'), undefined)), [4, 5, 6]);
  assert.deepEqual(ids(planReceive(backups('Cpp'), undefined)), [1, 2, 3]);
  assert.deepEqual(ids(planReceive(backups('C'), undefined)), [1]);
  assert.deepEqual(planReceive([], undefined), [], 'no backup yet: nothing to do');
});

test('plan: after the last applied backup, only newer partials, in order, missed ones included', () => {
  assert.deepEqual(ids(planReceive(backups('Cpppp'), 2)), [3, 4, 5]);
  assert.deepEqual(ids(planReceive(backups('Cpppp'), 1)), [2, 3, 4, 5]);
  assert.deepEqual(ids(planReceive(backups('Cpppp', [3]), 2)), [4, 5], 'a number never committed is no gap');
});

test('plan: nothing newer is nothing to do; a newer complete backup replaces everything before it', () => {
  assert.deepEqual(planReceive(backups('Cpp'), 3), []);
  assert.deepEqual(planReceive(backups('Cpp'), 7), [], 'backups deleted since: still nothing newer');
  assert.deepEqual(ids(planReceive(backups('CppCp'), 2)), [4, 5]);
  assert.deepEqual(ids(planReceive(backups('CppC'), 3)), [4]);
});

test('plan: if the last applied backup is gone, partials may be missing: start again from the complete one', () => {
  // Retention removed 2 and 3 (applied: 3); 4 and 5 alone would skip the changes 3 carried.
  assert.deepEqual(ids(planReceive(backups('Cpppp', [2, 3]), 3)), [1, 4, 5]);
});

test('plan: a newest partial with no complete backup before it cannot be received', () => {
  assert.throws(() => planReceive(backups('Cpp', [1]), undefined), NotFoundError);
});

test('state: absent, written atomically, read back; garbage is an error rather than a silent fresh start', async (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'cpsbackup-receive-'));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  assert.equal(await readReceiveState(folder, 'prod'), undefined);
  const state: ReceiveState = { client: 'prod', backupId: 7, kind: 'partial', backupStartedAt: '2026-03-01T10:00:00.000Z', appliedAt: '2026-03-01T10:01:00.000Z' };
  await writeReceiveState(folder, 'prod', state);
  assert.deepEqual(await readReceiveState(folder, 'prod'), state);
  await writeReceiveState(folder, 'prod', { ...state, backupId: 8 });
  assert.equal((await readReceiveState(folder, 'prod'))?.backupId, 8);
  assert.deepEqual(readdirSync(receiveFolder(folder)), ['prod.json'], 'no temp file left behind');
  writeFileSync(join(receiveFolder(folder), 'other.json'), '{"backupId": "x"');
  await assert.rejects(readReceiveState(folder, 'other'), CorruptError);
});

test('lock: one receive per client; another client is independent; a dead owner\'s lock is taken over', async (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'cpsbackup-receive-'));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  const lock = await acquireReceiveLock(folder, 'prod');
  await assert.rejects(acquireReceiveLock(folder, 'prod'), (error: unknown) => error instanceof BusyError && /pid \d+/.test(error.message));
  const other = await acquireReceiveLock(folder, 'staging');
  await other.release();
  await lock.release();
  // A receive killed with SIGKILL leaves its lock file: the pid in it is gone, so the next one proceeds.
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
  writeFileSync(join(receiveFolder(folder), 'prod.lock'), `${dead}\n`);
  const taken = await acquireReceiveLock(folder, 'prod');
  await taken.release();
  assert.deepEqual(readdirSync(receiveFolder(folder)), []);
});

test('plan: a partial whose recorded predecessor is gone breaks the chain loudly; one never committed is no gap', () => {
  // Each partial records the backup whose dump start its `since` came from (dumps.partial_of).
  const linked = (kinds: string, missing: readonly number[]): BackupSummary[] => {
    const listed = backups(kinds, missing);
    return listed.map((backup, index) => (backup.kind === BackupKind.BACKUP_KIND_PARTIAL
      ? { ...backup, labels: { 'dumps.partial_of': String(listed[index - 1].backupId) } } : backup));
  };
  assert.deepEqual(ids(planReceive(linked('Cppp', []), undefined)), [1, 2, 3, 4]);
  assert.deepEqual(ids(planReceive(linked('Cppp', [3]), undefined)), [1, 2, 4], 'backup 3 never committed: 4 continues 2');
  const broken = linked('Cppp', []).filter((backup) => backup.backupId !== 3); // 3 committed, then deleted
  assert.throws(() => planReceive(broken, undefined),
    (error: unknown) => error instanceof NotFoundError && /partial backup 4 holds the changes since backup 3, which is gone/.test(error.message));
  // A receiver that applied 4 already needs only 5: the gap before 4 changes nothing now.
  const afterGap = linked('Cpppp', []).filter((backup) => backup.backupId !== 3);
  assert.deepEqual(ids(planReceive(afterGap, 4)), [5]);
  // A partial that continues an earlier backup (a complete one committed while it started) covers more: loadable.
  const overlapping = backups('CpCp').map((backup) => (backup.backupId === 4 ? { ...backup, labels: { 'dumps.partial_of': '2' } } : backup));
  assert.deepEqual(ids(planReceive(overlapping, undefined)), [3, 4]);
});
