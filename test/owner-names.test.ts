// Regression (review of client-sent fields): an entry's owner and group names were the one text of
// EntryMeta the server took at any length (up to the 4 MiB message, in every catalog row of the
// entry), and -s printed them raw: a name holding a line feed forged a line of the listing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType } from '../src/proto/cpsbackup';
import { formatEntryLine } from '../src/cli/format';
import { checkEntryLimits, MAX_OWNER_NAME_BYTES } from '../src/server/entry-limits';
import { meta } from './support/hostile-client';

test('owner and group names past MAX_OWNER_NAME_BYTES are refused; -s shows a name escaped', () => {
  const shownPath = (): string => '/data/f';
  const entry = (user: string, group = ''): ReturnType<typeof meta> => meta('/data/f', EntryType.ENTRY_TYPE_FILE, { user, group });
  checkEntryLimits('node1', entry('u'.repeat(MAX_OWNER_NAME_BYTES), 'user@' + 'd'.repeat(1000)), shownPath);
  assert.throws(() => checkEntryLimits('node1', entry('u'.repeat(MAX_OWNER_NAME_BYTES + 1)), shownPath), /client "node1" sent entry \/data\/f: an owner name of 4097 bytes, more than 4096: refused/);
  assert.throws(() => checkEntryLimits('node1', entry('', 'é'.repeat(MAX_OWNER_NAME_BYTES / 2 + 1)), shownPath), /a group name of 4098 bytes/);
  const line = formatEntryLine(entry('root\nfile 0644 forged', 'wheel\u001b[2J'));
  assert.ok(!/[\u0000-\u001f]/.test(line), line);
  assert.match(line, /root\\x0afile 0644 forged:wheel\\x1b\[2J/);
});
