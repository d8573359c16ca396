// ChunkRunReader.storedAtIfRead (chunkstore/pack/chunk-run-reader.ts): a record of a run already read comes back
// at once, verified as storedAt verifies it; a run not read yet, or a record that does not verify, gives undefined,
// and storedAt then reads it and names the damage (the restore's slow path, which reports it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkRunReader } from '../src/chunkstore/pack/chunk-run-reader';
import { ChunkCodec } from '../src/chunkstore/codec';
import { Codec, encodeRecordHeader } from '../src/chunkstore/pack/pack-format';
import type { ChunkLocation } from '../src/chunkstore/catalog/records';
import type { PackBackend } from '../src/chunkstore/backend/pack-backend';
import { sha256 } from '../src/common/sha256';
import { CorruptError } from '../src/common/errors';

/** Raw records back to back in one pack; payloadHash as the catalog keeps it (damagedIndex gets a wrong one). */
function pack(payloads: readonly Buffer[], damagedIndex?: number): { bytes: Buffer; locations: ChunkLocation[] } {
  const parts: Buffer[] = [];
  const locations: ChunkLocation[] = [];
  let offset = 0;
  payloads.forEach((payload, index) => {
    const hash = sha256(payload);
    const record = Buffer.concat([encodeRecordHeader({ codec: Codec.Raw, rawSize: payload.length, storedSize: payload.length, hash }), payload]);
    const payloadHash = index === damagedIndex ? sha256(Buffer.from('another payload')) : sha256(payload);
    locations.push({ chunkId: index + 1, hash, packId: 1, packName: 'p1', offset, storedSize: payload.length, rawSize: payload.length, payloadHash });
    parts.push(record);
    offset += record.length;
  });
  return { bytes: Buffer.concat(parts), locations };
}

function backendOf(bytes: Buffer): PackBackend & { reads: number } {
  const backend = {
    kind: 'local', location: 'memory', reads: 0,
    readRange: async (_name: string, offset: number, length: number) => {
      backend.reads++;
      return Buffer.from(bytes.subarray(offset, offset + length));
    },
  };
  return backend as unknown as PackBackend & { reads: number };
}

test('a record of a run already read comes back without a wait, verified', async () => {
  const payloads = [Buffer.from('first chunk'), Buffer.from('second chunk'), Buffer.from('third chunk')];
  const { bytes, locations } = pack(payloads);
  const backend = backendOf(bytes);
  const reader = new ChunkRunReader(backend, locations, new ChunkCodec(3));
  assert.equal(reader.storedAtIfRead(0), undefined, 'nothing read yet');
  const first = await reader.storedAt(0);
  assert.deepEqual(first.payload, payloads[0]);
  const second = reader.storedAtIfRead(1);
  assert.ok(second !== undefined);
  assert.equal(second.codec, Codec.Raw);
  assert.deepEqual(second.payload, payloads[1]);
  assert.deepEqual(reader.storedAtIfRead(2)?.payload, payloads[2]);
  assert.equal(backend.reads, 1, 'one read for the run');
});

test('a record that does not verify gives undefined, and storedAt names the damage', async () => {
  const payloads = [Buffer.from('first chunk'), Buffer.from('damaged chunk')];
  const { bytes, locations } = pack(payloads, 1);
  const reader = new ChunkRunReader(backendOf(bytes), locations, new ChunkCodec(3));
  await reader.storedAt(0);
  assert.equal(reader.storedAtIfRead(1), undefined);
  await assert.rejects(reader.storedAt(1), (error: unknown) => error instanceof CorruptError && /payload does not match its hash/.test(error.message));
});
