// Catalog snapshots and the packs GC dooms: a doomed pack leaves the bucket only after a snapshot that no
// longer names it is stored, and a failed snapshot is asked for once per round of deletions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog } from '../src/chunkstore/catalog/catalog';
import { DoomedPacks } from '../src/chunkstore/gc/doomed-packs';
import { ReaderLeases } from '../src/chunkstore/read/reader-leases';
import { LocalBackend } from '../src/chunkstore/backend/local-backend';

// Regression: when the snapshot before a round of deletions failed, each doomed pack asked for one again:
// N doomed packs, N whole-catalog snapshots back to back.
test('a round of doomed-pack deletions whose snapshot fails asks for it once, not once per pack, and keeps every pack', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'cpsbackup-doomed-'));
  const catalog = new Catalog(join(root, 'catalog.db'));
  const backend = new LocalBackend(join(root, 'bucket'));
  t.after(async () => {
    catalog.close();
    await backend.close();
    await rm(root, { recursive: true, force: true });
  });
  let isRefusing = true;
  let calls = 0;
  const doomed = new DoomedPacks(catalog, backend, new ReaderLeases(() => undefined), undefined, {
    beforeDelete: async () => {
      calls++;
      if (isRefusing) throw new Error('catalog snapshot failed: 503 SlowDown');
    },
  });
  for (const name of ['p1', 'p2', 'p3', 'p4']) assert.ok(doomed.doom(catalog.packs.insert(name, 100, Date.now()), name));

  assert.equal(await doomed.deleteReady(), 0);
  assert.equal(calls, 1);
  assert.equal(catalog.packs.doomed().length, 4, 'every doomed pack kept for the next round');

  isRefusing = false;
  assert.equal(await doomed.deleteReady(), 4);
  assert.equal(calls, 2, 'one snapshot for the whole round');
  assert.deepEqual(catalog.packs.doomed(), []);
});
