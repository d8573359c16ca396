// LoadWarnings' contract: the load script's marked warnings are read from the client's stderr whatever its
// chunks' boundaries, with or without psql's `psql:<stdin>:N: ` prefix,
// in any lc_messages language; nothing else is; memory stays bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoadWarnings } from '../src/client/sources/tables/load-warnings';

test('marked warnings are read across chunk boundaries (a character split too); other lines are not', () => {
  const warnings = new LoadWarnings();
  const stderr = 'psql:<stdin>:12: WARNING:  cpsbackup: public.a: kept\nWARNING:  some other warning\nWARNING:  see cpsbackup: not marked\npsql:<stdin>:13: ATTENTION:  cpsbackup: public.c: kept, in French\n'
    + 'WARNING:  cpsbackup: public.bé€: kept, no newline at the end';
  const bytes = Buffer.from(stderr);
  for (let at = 0; at < bytes.length; at += 1) warnings.push(bytes.subarray(at, at + 1));
  assert.deepEqual(warnings.lines(), ['public.a: kept', 'public.c: kept, in French', 'public.bé€: kept, no newline at the end']);
});

test('past 1000 warnings the rest are counted', () => {
  const warnings = new LoadWarnings();
  warnings.push(Buffer.from('WARNING:  cpsbackup: x\n'.repeat(1003)));
  const lines = warnings.lines();
  assert.equal(lines.length, 1001);
  assert.equal(lines.at(-1), '3 more warnings');
});
