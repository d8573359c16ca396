// A listing of the store's packs that fails (EIO, EMFILE, a loop) fails the check: it must not make
// every pack it could not see "missing" and mark their chunks damaged for good.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, rename, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { backupFiles, bytesOf, openStoreFixture } from './support/store-fixture';

test('a pack folder that cannot be listed fails the check; nothing is marked damaged', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  const backup = await backupFiles(fixture.store, 'node1', { '/a.bin': await bytesOf('a', 200_000) });
  const packs = join(fixture.directory, 'packs');
  const [folder] = await readdir(packs);
  // The folder swapped for a link to itself: readdir fails with ELOOP, as a failing disk fails with EIO.
  await rename(join(packs, folder), join(fixture.directory, 'aside'));
  await symlink(folder, join(packs, folder));
  await assert.rejects(fixture.store.check({ readDataPercent: 0 }), { code: 'ELOOP' });
  assert.equal(fixture.store.damagedContents(backup.clientId).size, 0, 'chunks of the unlisted packs were marked damaged');
});
