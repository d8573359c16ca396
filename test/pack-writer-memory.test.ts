// What a pack writer keeps in memory: a record's payload only until it is in its staged file, never
// until the pack is stored. A server appends chunks that are views into received messages, and a
// pack holds 64 MiB: a payload kept until the seal keeps every message of the pack alive (62 MiB of
// a first backup's 240 MiB server, when a catch on the chunk id closed over append's scope).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { LocalBackend } from '../src/chunkstore/backend/local-backend';
import { Codec } from '../src/chunkstore/pack/pack-format';
import { PackWriter, type AppendedRecord } from '../src/chunkstore/pack/pack-writer';

const MEBIBYTE = 1024 * 1024;

/** The engine's collector, asked for by flag in a fresh context (the test runner's own has no `gc`). */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/**
 * Appends a payload that is a view into a larger "message", as a received chunk is, and returns only a
 * weak reference to the message's memory: the caller holds nothing that would keep it.
 */
function appendView(writer: PackWriter, seed: number): { record: AppendedRecord; message: WeakRef<ArrayBuffer> } {
  const message = Buffer.alloc(MEBIBYTE + 64, seed);
  const payload = message.subarray(32, 32 + MEBIBYTE);
  const hash = createHash('sha256').update(payload).digest();
  const record = writer.append(hash, Codec.Raw, payload.length, payload, hash);
  return { record, message: new WeakRef(message.buffer) };
}

test('a record in its staged file is not held until its pack is stored: the message it was a view of can be collected', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'pack-writer-memory-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, 'staging'));
  const gc = collector();
  let nextId = 1;
  const writer = new PackWriter(join(root, 'staging'), new LocalBackend(root), (pack) => pack.records.map(() => nextId++), {
    targetSize: 64 * MEBIBYTE,
  });

  const appended = [1, 2, 3].map((seed) => appendView(writer, seed));
  // Each 1 MiB record fills the write gather: all three are in the staged file once `written` settles.
  for (const { record } of appended) await record.written;
  await new Promise((resolve) => setImmediate(resolve)); // weak targets are kept to the end of the job that made them
  gc();

  const stillPending = Symbol('pending');
  for (const [index, { record, message }] of appended.entries()) {
    assert.equal(await Promise.race([record.chunkId, Promise.resolve(stillPending)]), stillPending, `record ${index + 1}: its pack is not stored yet`);
    assert.equal(message.deref(), undefined, `record ${index + 1}: its message is still in memory although its bytes are in the staged file`);
  }
  await writer.sealCurrent();
  assert.deepEqual(await Promise.all(appended.map(({ record }) => record.chunkId)), [1, 2, 3]);
});
