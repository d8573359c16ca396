// Regression: a Diff of two large near-identical backups compared rows without letting the event loop turn
// until 1000 differences were found, so other clients' keepalives timed out meanwhile. diffEntries now
// awaits its caller's pause between compared paths, and the Diff call turns the loop there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileEntry } from './support/store-fixture';
import { diffEntries } from '../src/server/browse/backup-diff';
import type { StoredEntry } from '../src/chunkstore/store';

test('a Diff of two near-identical backups pauses between the paths it compares, differences or not', async () => {
  const entries: StoredEntry[] = Array.from({ length: 5_000 }, (_, index) => ({ ...fileEntry(`/data/${index}`, 1), contentId: 1 }));
  let pauses = 0;
  const differences = [];
  for await (const difference of diffEntries(entries, entries, () => { pauses++; return undefined; })) differences.push(difference);
  assert.equal(differences.length, 0);
  assert.equal(pauses, entries.length);
});
