// Regression (review of client-sent fields): a Begin's hostname, labels and client version reached the
// catalog as sent, and from it every -l, -s and --json of the client and its restore_clients: a 4 MiB
// hostname, 100,000 labels, a key holding a line feed that forged a line of -s. The contract of each
// rule: what our client sends is kept as sent; odd text is escaped; too much is refused, naming the
// client and the field; a row kept before the rules is shown cleaned, never refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CLIENT_VERSION_LENGTH, HOSTNAME_LENGTH, MAX_LABEL_KEY_BYTES, MAX_LABEL_VALUE_BYTES, MAX_LABELS, MAX_LABELS_BYTES,
  receivedBegin, receivedLabels, shownBackupText,
} from '../src/server/received-begin';
import { ProtocolError } from '../src/common/errors';
import { BackupKind, type Begin } from '../src/proto/cpsbackup';
import { formatLabels } from '../src/cli/format';
import { LONGEST_ESCAPE } from '../src/common/config/display';
import { MAX_WARNINGS, WARNING_LENGTH, WARNINGS_LENGTH, receivedWarnings } from '../src/server/received-text';
import { backupSummaryOf } from '../src/server/backup-summary';
import type { BackupRecord } from '../src/chunkstore/store';

function begin(fields: Partial<Begin>): Begin {
  return { hostname: 'node1', kind: BackupKind.BACKUP_KIND_COMPLETE, parentBackupId: 0, labels: {}, clientVersion: '', isScheduled: true, ...fields };
}

/** What our client sends (uploader.ts, sources/): versions, high-water marks, the dumps' own labels. */
const HONEST_LABELS: Readonly<Record<string, string>> = {
  'version.pg': 'psql (PostgreSQL) 16.4 (Debian 16.4-1.pgdg120+1)',
  'mark.pg.public.orders.updated_at': '2026-11-23 14:30:25.123456+00',
  'mark.shop.ventes_été.id': '1234567890',
  'dumps.partial_sources': Array.from({ length: 500 }, (_, index) => `source-${index}`).join(','),
  'dumps.partial_of': '41',
  'dumps.started_at': '2026-11-23T14:30:25.000Z',
  [`mark.my.${'t'.repeat(64)}.${'c'.repeat(64)}`]: '7',
};

test('an honest Begin is kept exactly as sent, its client version as the label client.version', () => {
  const kept = receivedBegin('node1', begin({ hostname: 'db-1.example.org', labels: HONEST_LABELS, clientVersion: '0.1.0' }));
  assert.equal(kept.hostname, 'db-1.example.org');
  assert.deepEqual(kept.labels, { ...HONEST_LABELS, 'client.version': '0.1.0' });
});

test('a hostname is escaped and cut at HOSTNAME_LENGTH, never refused', () => {
  assert.equal(receivedBegin('node1', begin({ hostname: 'web\nnode2 backup ok\u0000' })).hostname, 'web\\x0anode2 backup ok\\x00');
  const long = receivedBegin('node1', begin({ hostname: 'h'.repeat(4 * 1024 * 1024) })).hostname;
  assert.equal(long, `${'h'.repeat(HOSTNAME_LENGTH)}…`);
  assert.equal(receivedBegin('node1', begin({ hostname: 'x'.repeat(HOSTNAME_LENGTH) })).hostname, 'x'.repeat(HOSTNAME_LENGTH), 'a 255-character name is whole');
});

test('a client version is escaped and cut at CLIENT_VERSION_LENGTH', () => {
  assert.equal(receivedBegin('node1', begin({ clientVersion: `1.0\u001b[2J${'v'.repeat(10_000)}` })).labels['client.version'],
    `1.0\\x1b[2J${'v'.repeat(CLIENT_VERSION_LENGTH - 7)}…`);
});

test('label keys and values are escaped: a line feed, a NUL, an escape sequence, a bidi control', () => {
  const labels = receivedLabels('node1', { 'version.a\nforged': 'x\u0000y', 'version.b': '\u001b]0;owned\u0007 \u202eevil' });
  assert.deepEqual(labels, { 'version.a\\x0aforged': 'x\\x00y', 'version.b': '\\x1b]0;owned\\x07 \\u202eevil' });
});

test('too many labels, a key or value too long, too many bytes in all, or the server\'s own key: refused, naming the client and the field', () => {
  const refusal = (labels: Record<string, string>, pattern: RegExp): void => {
    assert.throws(() => receivedLabels('mallory', labels), (error: unknown) => {
      assert.ok(error instanceof ProtocolError, String(error));
      assert.match(error.message, /^client "mallory" sent a Begin whose labels /);
      assert.match(error.message, pattern);
      return true;
    });
  };
  const many = (count: number): Record<string, string> => Object.fromEntries(Array.from({ length: count }, (_, index) => [`k${index}`, '']));
  refusal(many(100_000), new RegExp(`number 100000, more than ${MAX_LABELS}`));
  assert.equal(Object.keys(receivedLabels('node1', many(MAX_LABELS))).length, MAX_LABELS, 'MAX_LABELS labels are kept');
  refusal({ ['k'.repeat(MAX_LABEL_KEY_BYTES + 1)]: '' }, /hold a key of 1025 bytes/);
  refusal({ ['é'.repeat(MAX_LABEL_KEY_BYTES / 2 + 1)]: '' }, /hold a key of 1026 bytes/);
  refusal({ '': 'x' }, /hold a key of 0 bytes/);
  refusal({ 'version.a\n': 'v'.repeat(MAX_LABEL_VALUE_BYTES + 1) }, /hold a value of 65537 bytes under key version\.a\\x0a,/);
  const big = Object.fromEntries(Array.from({ length: 20 }, (_, index) => [`k${index}`, 'v'.repeat(MAX_LABEL_VALUE_BYTES - 10)]));
  refusal(big, new RegExp(`take more than ${MAX_LABELS_BYTES} bytes in all`));
  // Regression: counted as sent, 960,000 bytes of control characters passed, and were kept as 3.8 MB of escapes.
  const controls = Object.fromEntries(Array.from({ length: 60 }, (_, index) => [`k${index}`, '\u0001'.repeat(16_000)]));
  refusal(controls, new RegExp(`take more than ${MAX_LABELS_BYTES} bytes in all, escaped`));
  refusal({ warnings: '/a: unreadable\n/b: forged' }, /hold the key "warnings", which only the server writes/);
});

test('a row kept before the rules is shown cleaned and cut, its warnings one a line', () => {
  const stored = {
    'version.a\nforged': `x\u0000${'y'.repeat(MAX_LABEL_VALUE_BYTES + 5)}`,
    warnings: '/a: unreadable\n/b\u001b[2J: unreadable',
    ...Object.fromEntries(Array.from({ length: MAX_LABELS + 10 }, (_, index) => [`k${index}`, 'v'])),
  };
  const shown = shownBackupText(`host\n${'h'.repeat(10_000)}`, { 'version.b': `\u0000${'z'.repeat(MAX_LABEL_VALUE_BYTES * LONGEST_ESCAPE + 10)}`, ...stored });
  assert.equal(shown.hostname, `host\\x0a${'h'.repeat(HOSTNAME_LENGTH * LONGEST_ESCAPE + 1 - 5)}…`);
  assert.equal(Object.keys(shown.labels).length, MAX_LABELS);
  assert.equal(shown.labels['version.a\\x0aforged'], `x\\x00${'y'.repeat(MAX_LABEL_VALUE_BYTES + 5)}`, 'no longer than a row kept now can be');
  assert.equal(shown.labels['version.b'], `\\x00${'z'.repeat(MAX_LABEL_VALUE_BYTES * LONGEST_ESCAPE)}…`);
  assert.equal(shown.labels.warnings, '/a: unreadable\n/b\\x1b[2J: unreadable');
  assert.deepEqual(shownBackupText('db-1', HONEST_LABELS), { hostname: 'db-1', labels: HONEST_LABELS }, 'honest rows are shown as kept');
  // A row kept under the rules is shown as kept, however its escapes lengthened it.
  const keptNow = receivedBegin('node1', begin({ hostname: '\u0001'.repeat(10_000), labels: { ['\u2028'.repeat(MAX_LABEL_KEY_BYTES / 3)]: '\n'.repeat(MAX_LABEL_VALUE_BYTES) } }));
  assert.deepEqual(shownBackupText(keptNow.hostname, keptNow.labels), keptNow);
  // What List, Show, Restore and Upload send of a row: through the same cleaning.
  const summary = backupSummaryOf({ number: 3, hostname: 'a\nb', labels: { 'k\n': 'v\u0000' }, finishedAt: 1, isProtected: false } as unknown as BackupRecord, true);
  assert.equal(summary.hostname, 'a\\x0ab');
  assert.deepEqual(summary.labels, { 'k\\x0a': 'v\\x00' });
});

test('-s shows each label escaped on its line, even from a server that did not clean them', () => {
  const line = formatLabels({ 'version.a\nBackup: 0000009 forged': 'v\u2028w\u009b', warnings: 'a\nb' });
  assert.equal(line, 'version.a\\x0aBackup: 0000009 forged=v\\u2028w\\x9b warnings=2');
  assert.equal(formatLabels({ 'version.pg': 'psql "16"' }), 'version.pg=psql \\"16\\"', 'values are quoted as before');
});

test('a Begin of a kind neither complete nor partial is refused, naming the client', () => {
  assert.throws(() => receivedBegin('mallory', begin({ kind: 7 as BackupKind })), /^ProtocolError: client "mallory" sent a Begin of kind 7, neither complete \(0\) nor partial \(1\): refused$/);
  assert.equal(receivedBegin('node1', begin({ kind: BackupKind.BACKUP_KIND_PARTIAL })).hostname, 'node1');
});

// Regression: an old row's warnings were escaped when shown but not cut: a row written by a server before
// warnings were capped on receipt could hold megabytes, sent in every List and Show of the client.
test('an old row\'s warnings are cut when shown, as new ones are on receipt, and what is cut is counted', () => {
  const many = Array.from({ length: 3000 }, (_, index) => `/srv/${index}: ${'x'.repeat(1000)}`);
  const shownMany = shownBackupText('db-1', { warnings: many.join('\n') }).labels.warnings.split('\n');
  assert.ok(shownMany.join('\n').length <= WARNINGS_LENGTH + 100, `${shownMany.join('\n').length} characters shown`);
  const counted = /^\.\.\. and (\d+) more warnings, not kept$/.exec(shownMany.at(-1)!);
  assert.ok(counted, shownMany.at(-1));
  assert.equal(shownMany.length - 1 + Number(counted[1]), 3000, 'every warning is shown or counted');
  assert.deepEqual(shownMany.slice(0, -1), many.slice(0, shownMany.length - 1));

  // One line of a megabyte of controls, and more lines than MAX_WARNINGS: cut and marked.
  const long = shownBackupText('db-1', { warnings: `${'\u0001'.repeat(1024 * 1024)}\nnext` }).labels.warnings.split('\n');
  assert.deepEqual(long, [`${'\\x01'.repeat(WARNING_LENGTH)}…`, 'next'], 'cut as on receipt');
  const wide = shownBackupText('db-1', { warnings: 'y'.repeat(1024 * 1024) }).labels.warnings;
  assert.equal(wide, `${'y'.repeat(WARNING_LENGTH * LONGEST_ESCAPE + 1)}…`);
  const tooMany = shownBackupText('db-1', { warnings: Array.from({ length: MAX_WARNINGS + 7 }, (_, index) => `w${index}`).join('\n') }).labels.warnings;
  assert.equal(tooMany.split('\n').length, MAX_WARNINGS + 1);
  assert.match(tooMany, /\n\.\.\. and 7 more warnings, not kept$/);

  // A row kept under the rules is shown as kept, its count line included.
  for (const warnings of [['/a: unreadable', '/b: vanished'], Array.from({ length: MAX_WARNINGS + 3 }, () => '\u{e0001}'.repeat(WARNING_LENGTH))]) {
    const kept = receivedWarnings(warnings).join('\n');
    assert.equal(shownBackupText('db-1', { warnings: kept }).labels.warnings, kept);
  }
  // What List and Show send of the row.
  const summary = backupSummaryOf({ number: 3, hostname: 'db-1', labels: { warnings: many.join('\n') }, finishedAt: 1, isProtected: false } as unknown as BackupRecord, true);
  assert.equal(summary.labels.warnings, shownMany.join('\n'));
});
