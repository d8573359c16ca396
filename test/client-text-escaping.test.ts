// Regression (security review): text a client sends reached the server's log raw: a line feed in an
// Abort reason forged whole log records. Here the contract of each boundary: the logger writes one
// record per line, capped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, LOG_MESSAGE_LENGTH } from '../src/common/logger';
import { shown, shownLines } from '../src/common/config/display';

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
