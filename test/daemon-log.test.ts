// The client daemon's log keeps one record per line whatever a message quotes (the server's words, a
// dump's stderr), so no text can forge a record of its own; the log file holds the same line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDaemonLogger } from '../src/client/daemon/daemon-log';

test('a message with line feeds, carriage returns and NUL is one line on the sink and in the file', (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'daemon-log-'));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  const file = join(folder, 'daemon.log');
  const out: string[] = [];
  const err: string[] = [];
  const logger = createDaemonLogger(file, { out: (line) => out.push(line), err: (line) => err.push(line), now: () => 0 });
  logger.error('complete: failed: dump exited 2\n1970-01-01T00:00:00.000Z info complete: backup 12 done\r\0');
  logger.info('plain');
  assert.equal(err.length, 1);
  assert.equal(err[0].split('\n').length, 2, 'one line and its end');
  assert.doesNotMatch(err[0], /[\r\0]/);
  assert.match(err[0], /^1970-01-01T00:00:00\.000Z error complete: failed: dump exited 2\\x0a1970-01-01T00:00:00\.000Z info complete: backup 12 done\\x0d\\x00\n$/);
  assert.deepEqual(out, ['1970-01-01T00:00:00.000Z info plain\n']);
  assert.deepEqual(readFileSync(file, 'utf8').split('\n').filter(Boolean).length, 2, 'the file holds two records, no forged third');
});

test('a message of megabytes is cut to one bounded line', () => {
  const lines: string[] = [];
  const logger = createDaemonLogger(undefined, { out: (line) => lines.push(line), err: (line) => lines.push(line) });
  logger.warn('x'.repeat(4 * 1024 * 1024));
  assert.equal(lines.length, 1);
  assert.ok(lines[0].length < 70 * 1024, `${lines[0].length} characters`);
});
