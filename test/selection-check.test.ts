// A restore of part of a backup names what it found nothing of: each --include path (or receiver root)
// no entry lies at or below, and a -r pattern no entry matched; the same whether few paths are asked
// for (compared one by one) or many (looked up by each entry's folders).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SelectionCheck } from '../src/client/selection-check';

const ENTRIES = ['/', '/srv', '/srv/app', '/srv/app/a.conf', '/srv/app-old', '/srv/app-old/x', '/var', '/var/log/syslog', Buffer.from([0x2f, 0x62, 0xff])];

function unmatchedAfter(paths: readonly (string | Buffer)[], regex = ''): string[] {
  const check = new SelectionCheck(paths, regex);
  for (const entry of ENTRIES) check.saw(typeof entry === 'string' ? Buffer.from(entry) : entry);
  return check.unmatched(7);
}

test('paths with an entry at or below them are matched, others named, with few paths and with many', () => {
  const present = ['/srv/app', '/var/log', '/srv/app-old/x', Buffer.from([0x2f, 0x62, 0xff]), '/'];
  const absent = ['/srv/ap', '/srv/app/a', '/var/log/sys', '/nothing'];
  for (const padding of [0, 20]) {
    const others = Array.from({ length: padding }, (_, index) => `/elsewhere/${index}`);
    const messages = unmatchedAfter([...present, ...absent, ...others]);
    assert.deepEqual(messages.filter((message) => !message.startsWith('/elsewhere/')).sort(),
      absent.map((path) => `${path}: not in backup 0000007 (nothing at or below this path; --include takes the path as -s lists it)`).sort(), `padding ${padding}`);
    assert.equal(messages.length, absent.length + padding);
  }
});

test('a pattern that matched nothing is named; with paths, each unmatched path says it is the pattern that found nothing', () => {
  const check = new SelectionCheck([], '\\.nope$');
  assert.deepEqual(check.unmatched(3), ['-r "\\\\.nope$": no path in backup 0000003 matches it']);
  assert.deepEqual(unmatchedAfter(['/srv/app', '/srv/other'], 'a\\.conf$'),
    ['/srv/other: not in backup 0000007 (nothing at or below this path matches -r "a\\\\.conf$"; --include takes the path as -s lists it)']);
  assert.deepEqual(unmatchedAfter([], 'x'), [], 'entries arrived: the pattern matched something');
});
