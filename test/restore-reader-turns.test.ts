// Regression: a restore whose selection matched nothing read a whole backup without letting the event loop
// turn (later pages handed over as microtasks only), and other clients' keepalives timed out meanwhile.
// The store's reader now turns the loop between pages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileEntry, openStoreFixture } from './support/store-fixture';
import { EntryType } from '../src/proto/cpsbackup';

/** Counts turns of the event loop (setImmediate callbacks) until stopped. */
function turnCounter(): { turns: () => number; stop: () => void } {
  let turns = 0;
  let timer: NodeJS.Immediate | undefined;
  const tick = (): void => { turns++; timer = setImmediate(tick); };
  timer = setImmediate(tick);
  return { turns: () => turns, stop: () => clearImmediate(timer) };
}

test('a restore that selects nothing of a large backup lets the event loop turn while it reads', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  const session = await fixture.store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  for (let index = 0; index < 20_000; index++) {
    await session.addEntry({ ...fileEntry(`/data/${String(index).padStart(6, '0')}`, 0), type: EntryType.ENTRY_TYPE_DIRECTORY }, null);
  }
  const backup = await session.commit({}, 0);
  const reader = fixture.store.openReader(backup, { select: () => Promise.resolve([]) });
  const counter = turnCounter();
  let pages = 0;
  try {
    for await (const page of reader.pages()) pages += page.length === 0 ? 0 : 1;
  } finally {
    counter.stop();
    reader.close();
  }
  assert.equal(pages, 0, 'nothing was selected');
  assert.ok(counter.turns() > 0, 'the event loop never turned while 20 pages were read');
});
