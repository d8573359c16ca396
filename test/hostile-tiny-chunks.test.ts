// A client may send chunks of a few bytes, many to a message, and never an entry. Each chunk costs the
// server a record, a promise and map entries whatever its size: bounded by bytes alone, 8 MiB in flight
// was a million chunks, a message could carry as many, and nothing let go of them until an entry came
// (a reviewer's client sent 840,000 8-byte chunks: 1.6 GB of server memory, minutes of one thread).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { InFlightWork } from '../src/chunkstore/session/in-flight';
import { MAX_CHUNKS_PER_MESSAGE } from '../src/chunkstore/session/chunk-intake';
import { LimitError } from '../src/common/errors';
import { fileEntry, openStoreFixture, readBackup } from './support/store-fixture';
import { rawChunks } from './support/client-knowledge';

const MEBIBYTE = 1024 * 1024;

/** `count` distinct chunks of 8 bytes. */
function tinyChunks(count: number, seed: number): Buffer[] {
  return Array.from({ length: count }, (_, index) => {
    const chunk = Buffer.alloc(8);
    chunk.writeUInt32BE(seed);
    chunk.writeUInt32BE(index, 4);
    return chunk;
  });
}

test('work in flight is bounded in pieces as well as bytes: 8-byte pieces wait once some thousands are pending', async () => {
  const inFlight = new InFlightWork();
  const release: (() => void)[] = [];
  let addedBeforeWaiting = 0;
  for (; addedBeforeWaiting < 100_000; addedBeforeWaiting++) {
    const work = new Promise<void>((resolve) => release.push(resolve));
    if (inFlight.add(work, 8, 8 * MEBIBYTE) !== undefined) break;
  }
  assert.ok(addedBeforeWaiting <= 2048, `${addedBeforeWaiting} pieces of 8 bytes were in flight before one had to wait`);
  for (const resolve of release) resolve();
  await inFlight.drain();
});

test('a message of more chunks than the limit is refused, naming the client', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  const session = await fixture.store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  await assert.rejects(session.receiveChunks(rawChunks(tinyChunks(MAX_CHUNKS_PER_MESSAGE + 1, 1))), (error: unknown) => {
    assert.ok(error instanceof LimitError, String(error));
    assert.match(error.message, /client "node1" sent 4097 chunks in one message; the limit is 4096: refused/);
    return true;
  });
  await session.abandon(new Error('refused'));
});

test('chunks sent without entries are flushed to the catalog once many are remembered, and a file naming them all still commits and reads back', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  const session = await fixture.store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  const chunks = tinyChunks(40_000, 2);
  for (let start = 0; start < chunks.length; start += 4000) await session.receiveChunks(rawChunks(chunks.slice(start, start + 4000)));

  // Before any entry: the session let go of most of them, recorded in the catalog (their packs sealed).
  const catalog = new Database(join(fixture.directory, 'catalog.db'), { readonly: true });
  const recorded = catalog.prepare('SELECT COUNT(*) FROM chunks').pluck().get() as number;
  catalog.close();
  assert.ok(recorded >= 16_384, `${recorded} of 40,000 chunks recorded before any entry came`);

  // An honest client's large file arrives after its chunks: resolved through the catalog for those flushed.
  const content = Buffer.concat(chunks);
  const hashes = Buffer.concat(rawChunks(chunks).map((chunk) => chunk.hash));
  await session.addEntry(fileEntry('/tiny.bin', content.length), session.chunkedContent(hashes, () => '/tiny.bin'));
  const backup = await session.commit({}, 0);
  const files = await readBackup(fixture.store, backup);
  assert.ok(files.get('/tiny.bin')?.equals(content), 'the file reads back as sent');
});
