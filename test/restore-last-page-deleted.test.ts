// Regression (red team redlife): a restore reads its backup a page at a time and asked for one more page after
// the last, short one; a backup deleted while that last page streamed (`-d`, retention) then failed the restore,
// exit 1, "backup 1 of client "node1" was deleted while it was being read", although every file had been
// received and restored byte for byte. A short page is the last: the reader stops there. A deletion before the
// last page is still an error (entries-of-deleted-backup.test.ts, e2e: the restore names the backup).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backupFiles, bytesOf, openStoreFixture } from './support/store-fixture';

test('a backup deleted while its last page is restored: the restore ends with every file, not with an error', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  const { store } = fixture;
  const files = { '/srv/a.bin': await bytesOf('a', 300_000), '/srv/b.bin': await bytesOf('b', 200_000) };
  const first = await backupFiles(store, 'node1', files);
  await backupFiles(store, 'node1', { '/srv/c.bin': await bytesOf('c', 1000) });

  const restored = new Map<string, Buffer>();
  const reader = store.openReader(first);
  try {
    for await (const page of reader.pages()) {
      for (const item of page) if (item.content !== undefined) restored.set(item.entry.path.toString(), await item.content.readWhole());
      // Deleted as the restore finishes its only page, before it asks for the next.
      if (store.findBackup('node1', first.number) !== undefined) store.deleteBackups([first]);
    }
  } finally {
    reader.close();
  }
  assert.deepEqual([...restored.keys()].sort(), Object.keys(files));
  for (const [path, bytes] of Object.entries(files)) assert.ok(restored.get(path)!.equals(bytes), path);
  assert.equal(store.findBackup('node1', first.number), undefined, 'the backup was deleted meanwhile');
});
