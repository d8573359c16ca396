// Refused connections are logged without letting one peer flood the log: the first ten of a kind from
// an address per minute one by one, the rest counted into one line, nothing counted ever left unsaid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LINES_PER_INTERVAL, REFUSALS_LOGGED_PER_INTERVAL, RefusalLog } from '../src/server/transport/refusal-log';
import type { Logger } from '../src/common/logger';

function collectingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const keep = (message: string): void => { lines.push(message); };
  return { logger: { info: keep, warn: keep, error: keep }, lines };
}

const NO_CERT = 'no client certificate';

test('a peer refused a thousand times a minute costs eleven log lines, and the count is kept', () => {
  const { logger, lines } = collectingLogger();
  let now = 1_000_000;
  const log = new RefusalLog(logger, 60_000, () => now);
  try {
    for (let attempt = 0; attempt < 1000; attempt++) {
      log.refused('203.0.113.9', NO_CERT, `refused a connection from 203.0.113.9:${40000 + attempt}: ${NO_CERT}`);
      now += 50;
    }
    assert.equal(lines.length, REFUSALS_LOGGED_PER_INTERVAL, 'the first ones one by one');
    assert.equal(lines[0], `refused a connection from 203.0.113.9:40000: ${NO_CERT}`);
    now += 10_000; // the minute since the first one is over
    log.summarize(false);
    assert.equal(lines.length, REFUSALS_LOGGED_PER_INTERVAL + 1);
    assert.equal(lines.at(-1), `990 more refused connections like this one within 50 s: refused a connection from 203.0.113.9:40000: ${NO_CERT}`);
    log.summarize(false);
    assert.equal(lines.length, REFUSALS_LOGGED_PER_INTERVAL + 1, 'nothing said twice');
  } finally {
    log.close();
  }
});

test('other addresses and other reasons are logged on their own, and close() says what was still counted', () => {
  const { logger, lines } = collectingLogger();
  let now = 0;
  const log = new RefusalLog(logger, 60_000, () => now);
  const revoked = 'client "node2" (serial 0A): certificate revoked';
  for (let attempt = 0; attempt < 12; attempt++) log.refused('192.0.2.1', NO_CERT, `from 192.0.2.1: ${NO_CERT}`);
  log.refused('192.0.2.1', revoked, `from 192.0.2.1: ${revoked}`);
  log.refused('192.0.2.2', NO_CERT, `from 192.0.2.2: ${NO_CERT}`);
  assert.equal(lines.length, REFUSALS_LOGGED_PER_INTERVAL + 2);
  assert.ok(lines.includes(`from 192.0.2.1: ${revoked}`) && lines.includes(`from 192.0.2.2: ${NO_CERT}`));
  now = 5_000;
  log.close(); // also what a test that throws before it would leave to the unref'd timer
  assert.equal(lines.at(-1), `2 more refused connections like this one within 1 s: from 192.0.2.1: ${NO_CERT}`);
});

test('after the interval a refusal is logged again, with the count of the last interval before it', () => {
  const { logger, lines } = collectingLogger();
  let now = 0;
  const log = new RefusalLog(logger, 60_000, () => now);
  try {
    for (let attempt = 0; attempt < REFUSALS_LOGGED_PER_INTERVAL + 3; attempt++) log.refused('198.51.100.7', NO_CERT, `attempt ${attempt}`);
    now = 61_000;
    log.refused('198.51.100.7', NO_CERT, 'attempt later');
    assert.deepEqual(lines.slice(-2), ['3 more refused connections like this one within 1 s: attempt 0', 'attempt later']);
  } finally {
    log.close();
  }
});

test('a peer that changes its address every time gets at most 100 lines a minute, and one line with the rest', () => {
  const { logger, lines } = collectingLogger();
  let now = 0;
  const log = new RefusalLog(logger, 60_000, () => now);
  try {
    for (let address = 0; address < 5000; address++) {
      log.refused(`2001:db8::${address.toString(16)}`, NO_CERT, `from ${address}: ${NO_CERT}`);
      now += 10;
    }
    assert.equal(lines.length, LINES_PER_INTERVAL);
    now = 61_000;
    log.summarize(false);
    assert.equal(lines.length, LINES_PER_INTERVAL + 1);
    assert.equal(lines.at(-1), `${5000 - LINES_PER_INTERVAL} more refused connections from ${5000 - LINES_PER_INTERVAL} addresses within 50 s, not logged one by one (at most ${LINES_PER_INTERVAL} lines per 60 s)`);
    log.refused('192.0.2.1', NO_CERT, 'a new minute');
    assert.equal(lines.at(-1), 'a new minute', 'the budget is renewed');
  } finally {
    log.close();
  }
});
