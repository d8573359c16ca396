// The receiver's pure plan (which backups to load after the last applied one), its state file
// (atomic, refuses garbage) and its lock (one receive per client; a dead owner's lock is taken over).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planReceive, type AppliedBackup } from '../src/client/receiver/receive-plan';
import { acquireReceiveLock } from '../src/client/receiver/receive-lock';
import { appliedBackupOf, readReceiveState, receiveFolder, writeReceiveState, type ReceiveState } from '../src/client/receiver/receive-state';
import { BusyError, CorruptError, NotFoundError, ReplicaMismatchError } from '../src/common/errors';
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

/** The backup numbered `backupId` as the receiver recorded it when it applied it: as listed, or as `backups()` would have made it. */
function appliedAs(listed: readonly BackupSummary[], backupId: number): AppliedBackup {
  const backup = listed.find((candidate) => candidate.backupId === backupId);
  return { backupId, startedAtMs: backupId * 1000, kind: backup?.kind === BackupKind.BACKUP_KIND_COMPLETE ? 'complete' : 'partial' };
}

const load = (listed: readonly BackupSummary[], appliedId: number | undefined): BackupSummary[] =>
  planReceive(listed, appliedId === undefined ? undefined : appliedAs(listed, appliedId)).load;

test('plan: first receive loads the newest complete backup and the partials after it', () => {
  assert.deepEqual(ids(load(backups('CppCpp'), undefined)), [4, 5, 6]);
  assert.deepEqual(ids(load(backups('Cpp'), undefined)), [1, 2, 3]);
  assert.deepEqual(ids(load(backups('C'), undefined)), [1]);
  assert.deepEqual(load([], undefined), [], 'no backup yet: nothing to do');
});

test('plan: after the last applied backup, only newer partials, in order, missed ones included', () => {
  assert.deepEqual(ids(load(backups('Cpppp'), 2)), [3, 4, 5]);
  assert.deepEqual(ids(load(backups('Cpppp'), 1)), [2, 3, 4, 5]);
  assert.deepEqual(ids(load(backups('Cpppp', [3]), 2)), [4, 5], 'a number never committed is no gap');
});

test('plan: nothing newer is nothing to do; a newer complete backup replaces everything before it', () => {
  assert.deepEqual(load(backups('Cpp'), 3), []);
  assert.deepEqual(ids(load(backups('CppCp'), 2)), [4, 5]);
  assert.deepEqual(ids(load(backups('CppC'), 3)), [4]);
});

test('plan: if the last applied backup is gone, partials may be missing: start again from the complete one', () => {
  // Retention removed 2 and 3 (applied: 3); 4 and 5 alone would skip the changes 3 carried.
  assert.deepEqual(ids(load(backups('Cpppp', [2, 3]), 3)), [1, 4, 5]);
});

test('plan: a newest partial with no complete backup before it cannot be received', () => {
  assert.throws(() => load(backups('Cpp', [1]), undefined), NotFoundError);
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
  assert.deepEqual(ids(load(linked('Cppp', []), undefined)), [1, 2, 3, 4]);
  assert.deepEqual(ids(load(linked('Cppp', [3]), undefined)), [1, 2, 4], 'backup 3 never committed: 4 continues 2');
  const broken = linked('Cppp', []).filter((backup) => backup.backupId !== 3); // 3 committed, then deleted
  assert.throws(() => load(broken, undefined),
    (error: unknown) => error instanceof NotFoundError && /partial backup 4 holds the changes since backup 3, which is gone/.test(error.message));
  // A receiver that applied 4 already needs only 5: the gap before 4 changes nothing now.
  const afterGap = linked('Cpppp', []).filter((backup) => backup.backupId !== 3);
  assert.deepEqual(ids(load(afterGap, 4)), [5]);
  // A partial that continues an earlier backup (a complete one committed while it started) covers more: loadable.
  const overlapping = backups('CpCp').map((backup) => (backup.backupId === 4 ? { ...backup, labels: { 'dumps.partial_of': '2' } } : backup));
  assert.deepEqual(ids(load(overlapping, undefined)), [3, 4]);
});

// Regression: the receiver knew its last applied backup by number alone. After prod moved to a new
// backup server (numbering from 1 again) it said "Nothing new: backup 734 … is already applied" with
// exit 0 for months, then loaded the new server's partial 735 onto the old 734's data.
test('plan: an applied backup not on the server as applied is never "nothing new", never a base for partials', () => {
  const startedAt = Date.parse('2026-06-01T03:30:00.000Z');
  const applied: AppliedBackup = { backupId: 734, startedAtMs: startedAt, kind: 'complete' };
  // The new server: 5 backups, all made after the move.
  const later = (listed: BackupSummary[]): BackupSummary[] => listed.map((backup) => ({ ...backup, startedAtMs: startedAt + backup.backupId * 86_400_000 }));
  const fresh = later(backups('Cpppp'));
  const restarted = planReceive(fresh, applied, 'prod');
  assert.deepEqual(ids(restarted.load), [1, 2, 3, 4, 5], 'the newest complete backup and its partials, not nothing');
  assert.match(restarted.rebased ?? '', /backup 734 \(started 2026-06-01T03:30:00\.000Z\) of prod, the last one applied here, is not on the server: its newest backup is backup 5/);
  // Months later the new server's numbers pass the old ones: its 734 is another backup, 735 must not land on the old 734.
  const renumbered = later(backups(`${'C'.repeat(733)}Cp`));
  const plan = planReceive(renumbered, applied, 'prod');
  assert.deepEqual(ids(plan.load), [734, 735], 'from the complete backup, not [735]');
  assert.match(plan.rebased ?? '', /its backup 734 \(started [^)]+\) is another backup/);
  // The very backup applied, as listed: the ordinary path, nothing said.
  const same = renumbered.map((backup) => (backup.backupId === 734 ? { ...backup, startedAtMs: startedAt } : backup));
  assert.deepEqual(planReceive(same, applied, 'prod'), { load: [same[734]] });
});

test('plan: a server whose newest backup is older than the one applied is refused, not reloaded nor "nothing new"', () => {
  // Backups 4 to 7 deleted on the server (or an old server back): loading 3 would take the replica back in time.
  assert.throws(() => planReceive(backups('Cpp'), { backupId: 7, startedAtMs: 7000, kind: 'partial' }, 'prod'),
    (error: unknown) => error instanceof ReplicaMismatchError
      && /backup 7 \(started [^)]+\) of prod, the last one applied here, is not on the server: its newest backup is backup 3 .*nothing loaded/.test(error.message));
  assert.throws(() => planReceive([], { backupId: 7, startedAtMs: 7000, kind: 'partial' }, 'prod'), ReplicaMismatchError, 'an empty list too');
  // A backup of the same number and time but another kind is another backup as well.
  assert.throws(() => planReceive(backups('Cpp'), { backupId: 3, startedAtMs: 3000, kind: 'complete' }, 'prod'), ReplicaMismatchError);
});

test('state: a state without the applied backup\'s start time or kind is refused, as it could no longer tell its backup', async (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'cpsbackup-receive-'));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  await writeReceiveState(folder, 'prod', { client: 'prod', backupId: 7, kind: 'partial', backupStartedAt: '2026-03-01T10:00:00.000Z', appliedAt: '2026-03-01T10:01:00.000Z' });
  writeFileSync(join(receiveFolder(folder), 'bare.json'), '{"backupId": 7, "kind": "partial"}');
  await assert.rejects(readReceiveState(folder, 'bare'), CorruptError);
  const state = await readReceiveState(folder, 'prod');
  assert.deepEqual(state === undefined ? undefined : appliedBackupOf(state), { backupId: 7, startedAtMs: Date.parse('2026-03-01T10:00:00.000Z'), kind: 'partial' });
});
