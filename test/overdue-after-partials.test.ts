// Regression (review): an overdue client got a new overdue notification after every partial, not once.
// Overdue counts from the last complete backup, but each successful partial cleared the "already
// notified" flag, so the next check found the client still overdue and notified again (~96 a day).
// In process: the rules against a store stub, partials every 15 min past warn_after.
// The same file guards the overdue check's cost (it reads one backup per client, not the history).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BackupRecord } from '../src/chunkstore/catalog/records';
import { BackupKind } from '../src/proto/cpsbackup';
import { NotificationRules } from '../src/server/notify/notification-rules';
import type { Notifier } from '../src/server/notify/notifier';
import type { Notification } from '../src/server/notify/notification';
import type { ServerContext } from '../src/server/server-context';

const HOUR_MS = 3_600_000;
const QUARTER_HOUR_MS = 15 * 60_000;

function backupOf(number: number, kind: BackupKind, at: number): BackupRecord {
  return {
    id: number, clientId: 1, clientName: 'web', number, state: 'committed', kind, hostname: 'web',
    startedAt: at, finishedAt: at, files: 1, logicalBytes: 1, newBytes: 0, storedBytes: 1, labels: {}, unreadableFiles: 0,
  } as BackupRecord;
}

function rulesOver(backups: BackupRecord[], sent: Notification[], startedAt: number, reads = { histories: 0 }): NotificationRules {
  const store = {
    findBackup: (_name: string, number: number) => (number === 0 ? backups.at(-1) : backups.find((backup) => backup.number === number)),
    listBackups: () => { reads.histories++; return backups; },
    latestCompleteBackup: () => backups.filter((backup) => backup.kind === BackupKind.BACKUP_KIND_COMPLETE).at(-1),
    clientUsage: () => ({ bytes: 0 }),
  };
  const context = {
    store,
    logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    config: { warnAfterSeconds: 26 * 3600, anomalyShare: 0.5, quotas: {} },
    clients: { current: { records: new Map([['web', { name: 'web' }]]), refused: [], byName: () => ({ name: 'web' }) } },
    activity: { onOutcome: () => () => undefined },
  } as unknown as ServerContext;
  const notifier = { send: (notification: Notification) => { sent.push(notification); } } as unknown as Notifier;
  return new NotificationRules(context, notifier, startedAt);
}

test('a client overdue for a complete, with partials every 15 minutes, is notified as overdue once', () => {
  const start = Date.parse('2026-12-01T00:00:00Z');
  const backups = [backupOf(1, BackupKind.BACKUP_KIND_COMPLETE, start)];
  const sent: Notification[] = [];
  const rules = rulesOver(backups, sent, start);
  for (let now = start + QUARTER_HOUR_MS; now < start + 28 * HOUR_MS; now += QUARTER_HOUR_MS) {
    backups.push(backupOf(backups.length + 1, BackupKind.BACKUP_KIND_PARTIAL, now));
    rules.onOutcome({ clientName: 'web', backupNumber: backups.length, isSuccess: true, at: now }, now);
    rules.checkOverdue(now + 60_000);
  }
  assert.equal(sent.filter((notification) => notification.outcome === 'overdue').length, 1);

  // A complete ends the lapse: the next one is notified once more.
  const now = start + 28 * HOUR_MS;
  backups.push(backupOf(backups.length + 1, BackupKind.BACKUP_KIND_COMPLETE, now));
  rules.onOutcome({ clientName: 'web', backupNumber: backups.length, isSuccess: true, at: now }, now);
  rules.checkOverdue(now + 60_000);
  rules.checkOverdue(now + 27 * HOUR_MS);
  assert.equal(sent.filter((notification) => notification.outcome === 'overdue').length, 2);
});

// Regression (review): the overdue timer read every backup of a client, labels JSON-parsed, at every
// check (up to once a minute) for each client whose newest backup is a partial.
test('the overdue check reads the last complete backup, not the client\'s history', () => {
  const start = Date.parse('2026-12-01T00:00:00Z');
  const backups = [backupOf(1, BackupKind.BACKUP_KIND_COMPLETE, start), backupOf(2, BackupKind.BACKUP_KIND_PARTIAL, start + HOUR_MS)];
  const sent: Notification[] = [];
  const reads = { histories: 0 };
  const rules = rulesOver(backups, sent, start, reads);
  for (let check = 1; check <= 100; check++) rules.checkOverdue(start + check * HOUR_MS);
  assert.equal(reads.histories, 0);
  assert.equal(sent.filter((notification) => notification.outcome === 'overdue').length, 1);
  assert.equal(sent[0].backupId, 1, 'overdue since the complete, not the partial');
});
