// Regression (red team redlife): a backup's entries are read a page at a time, and a backup deleted between two
// pages (`-d`, retention after another commit) read as one that ends there. `cpsbackup -s N` printed the first
// 31,001 of 46,001 entries and exited 0; `--find` left out the rest of that backup's matches, and the Parent call
// handed a backup a cut index. Every paged reader of a backup's entries now fails, naming the backup, instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChunkStore } from '../src/chunkstore/store';
import { NotFoundError } from '../src/common/errors';
import { EntryType } from '../src/proto/cpsbackup';
import { fileEntry, openStoreFixture } from './support/store-fixture';

/** More entries than two pages of either reader (1,000 and 2,000 a page). */
const FOLDERS = 4500;

async function backupOfFolders(store: ChunkStore, count: number): Promise<void> {
  const session = await store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  for (let index = 0; index < count; index++) {
    await session.addEntry({ ...fileEntry(`/srv/folder-${String(index).padStart(5, '0')}`, 0), type: EntryType.ENTRY_TYPE_DIRECTORY }, null);
  }
  await session.commit({}, 0);
}

for (const reader of ['entries', 'unchangedCheckEntries'] as const) {
  test(`store.${reader}: a backup deleted between two pages fails the read, never ends it short`, async (t) => {
    const fixture = await openStoreFixture();
    t.after(() => fixture.destroy());
    const { store } = fixture;
    await backupOfFolders(store, FOLDERS);
    await backupOfFolders(store, 1);
    const [first] = store.listBackups('node1');
    assert.equal([...store[reader](first)].length, FOLDERS, 'read whole while the backup stands');

    const read: unknown[] = [];
    const iterator = store[reader](first)[Symbol.iterator]();
    for (let index = 0; index < 10; index++) read.push(iterator.next().value);
    store.deleteBackups([first]);
    let failure: unknown;
    try {
      for (let next = iterator.next(); next.done !== true; next = iterator.next()) read.push(next.value);
    } catch (error) {
      failure = error;
    }
    assert.ok(failure !== undefined, `the read must fail once the backup is gone; it ended after ${read.length} of ${FOLDERS} entries`);
    assert.ok(failure instanceof NotFoundError, String(failure));
    assert.match(failure.message, /backup 1 of client "node1" was deleted while it was being read/);
  });
}
