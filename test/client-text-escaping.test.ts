// Regression (security review): text a client sends reached the server's log, notifications and status
// output raw. A line feed in an Abort reason forged whole log records, one in a path made a check
// notification list a file that is not damaged, and controls reached the terminal of `status`. Here the
// contract of each boundary: the logger writes one record per line, capped; a notification's summary is
// one line, its reason keeps only line feeds; a path is escaped; the status text shows one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, LOG_MESSAGE_LENGTH } from '../src/common/logger';
import { shown, shownLines } from '../src/common/config/display';
import { ABORT_REASON_LENGTH, MAX_WARNINGS, WARNING_LENGTH, WARNINGS_LENGTH, receivedAbortReason, receivedWarnings } from '../src/server/received-text';
import { checkNotification, failureNotification, SUMMARY_LENGTH } from '../src/server/notify/notification';
import type { CheckReport } from '../src/chunkstore/check';
import { statusText } from '../src/server/status/status-text';
import type { StatusReport } from '../src/server/status/status-report';

const FORGED = '2026-01-01T00:00:00.000Z cpsbackup-server warn client "node1": certificate revoked';

test('the logger writes one record per line, whatever the message holds, cut at LOG_MESSAGE_LENGTH', () => {
  const lines: string[] = [];
  const logger = createLogger('server', (line) => { lines.push(line); });
  logger.warn(`abandoned: disk gone\n${FORGED}`);
  logger.info('a\rb\u0000c\u2028d\u202ee\u001b[2J');
  logger.error('x'.repeat(LOG_MESSAGE_LENGTH + 10));
  assert.equal(lines.length, 3);
  for (const line of lines) assert.equal(line.indexOf('\n'), line.length - 1, 'a single line feed, at the end');
  assert.match(lines[0], /^\S+ server warn abandoned: disk gone\\x0a2026-01-01T00:00:00\.000Z cpsbackup-server warn client "node1": certificate revoked\n$/);
  assert.match(lines[1], /^\S+ server info a\\x0db\\x00c\\u2028d\\u202ee\\x1b\[2J\n$/);
  assert.match(lines[2], new RegExp(`^\\S+ server error x{${LOG_MESSAGE_LENGTH}}…\\n$`));
});

test('shown() makes one line; shownLines() keeps the line feeds and escapes the rest; both cut by characters', () => {
  assert.equal(shown('a\nb\u2029c\ufeff'), 'a\\x0ab\\u2029c\\ufeff');
  assert.equal(shownLines('exit 3\nstderr:\u0000 \u001b[31mred\r', 100), 'exit 3\nstderr:\\x00 \\x1b[31mred\\x0d');
  assert.equal(shownLines(`${'é'.repeat(5)}\n${'é'.repeat(5)}`, 8), `${'é'.repeat(5)}\n${'é'.repeat(2)}…`);
});

test('an abort reason and commit warnings are made safe as they arrive: lines escaped, texts and counts capped', () => {
  assert.equal(receivedAbortReason(`dump failed\n${FORGED}\u0000`), `dump failed\n${FORGED}\\x00`);
  assert.equal(receivedAbortReason('r'.repeat(10_000)), `${'r'.repeat(ABORT_REASON_LENGTH)}…`);
  assert.deepEqual(receivedWarnings(['/a: unreadable\n/b: forged', 'fine']), ['/a: unreadable\\x0a/b: forged', 'fine']);
  const many = receivedWarnings(Array.from({ length: MAX_WARNINGS + 5 }, (_, index) => `w${index}`));
  assert.equal(many.length, MAX_WARNINGS + 1);
  assert.equal(many.at(-1), '... and 5 more warnings, not kept');
  // Regression (review of client-sent fields): 1000 warnings of control characters kept 48 MiB, past any List.
  const escaped = receivedWarnings(Array.from({ length: MAX_WARNINGS }, () => '\u0001'.repeat(WARNING_LENGTH)));
  assert.ok(escaped.join('\n').length <= WARNINGS_LENGTH + 100, `${escaped.join('\n').length} characters kept`);
  assert.match(escaped.at(-1)!, /^\.\.\. and \d+ more warnings, not kept$/);
});

test('notifications: a failure summary is one capped line, its reason keeps lines; a damaged path is escaped', () => {
  const failure = failureNotification('node1', 7, `client aborted the backup: ${'q'.repeat(5000)}\u0000\nsecond line\u001b[2J`, 0);
  assert.ok(!/[\u0000-\u001f]/.test(failure.summary), failure.summary);
  assert.equal(failure.summary.length, SUMMARY_LENGTH + 1);
  assert.match(failure.reason!, /q\\x00\nsecond line\\x1b\[2J$/);

  const report: CheckReport = {
    counts: { packs: 1, chunks: 1, contents: 1, backups: 1, chunksRead: 1 },
    damagedChunks: [{ chunkId: 1, hash: 'ab', packId: 1, packName: 'p', offset: 0, reason: 'hash mismatch' }],
    damagedContents: [],
    affectedFiles: [{ clientName: 'node1', backupNumber: 3, path: Buffer.from('/srv/a\ndamaged file: client node2 backup 9 /etc/forged\\'), contentId: 1 }],
    affectedBackups: [{ clientName: 'node1', backupNumber: 3, damagedFiles: 1 }],
    problems: [], staleKnowledge: [], garbage: { contents: 0, chunks: 0 }, damagedGarbageChunks: [], soundAgain: [],
  };
  const check = checkNotification(report, ['report'], 0);
  assert.deepEqual(check.warnings, ['damaged file: client node1 backup 3 /srv/a\\x0adamaged file: client node2 backup 9 /etc/forged\\\\']);
});

test('the status text shows a failure reason and a warning on one line each', () => {
  const report: StatusReport = {
    version: '0.1.0', generatedAt: '2026-01-01T00:00:00.000Z', startedAt: '2026-01-01T00:00:00.000Z', uptimeSeconds: 60,
    store: { backups: 1, logicalBytes: 1, uniqueBytes: 1, storedBytes: 1, chunks: 1, packs: 1, dedupRatio: 1, compressionRatio: 1, diskBytes: 1,
      measuredAt: '2026-01-01T00:00:00.000Z', ageSeconds: 0 },
    clients: [{
      name: 'node1', state: 'failed', isOverdue: false, overdueSince: null, warnAfterSeconds: null,
      lastSuccess: { id: 1, kind: 'complete', startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:05.000Z', ageSeconds: 60,
        durationSeconds: 5, files: 1, bytes: 1, newBytes: 1, storedBytes: 1, warnings: ['/a\u001b]0;owned\u0007'], warningCount: 1 },
      lastFailure: { id: 2, at: '2026-01-01T00:00:00.000Z', ageSeconds: 30, reason: 'aborted\u001b[2J\r\nnode2 ok' },
      running: null, backupsKept: 1, anomaly: null,
    }],
  };
  const text = statusText(report);
  assert.ok(!/[\u0000-\u0009\u000b-\u001f]/.test(text), JSON.stringify(text));
  assert.match(text, /^ {2}last failure 30s ago: aborted\\x1b\[2J\\x0d$/m);
  assert.match(text, /^ {2}1 warning\(s\) in #1, the first: \/a\\x1b]0;owned\\x07$/m);
});
