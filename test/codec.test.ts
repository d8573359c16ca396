// The chunk codec: zstd only when it helps, and never a compressed form that does not decode to
// the original bytes (restic #4523: a compressor once returned wrong bytes on decompress).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ChunkCodec, zstdPayloadProblem } from '../src/chunkstore/codec';
import { Codec } from '../src/chunkstore/pack/pack-format';
import { CorruptError } from '../src/common/errors';

test('compressible chunks are stored as zstd and decode back exactly', () => {
  const codec = new ChunkCodec(3);
  const raw = Buffer.from('the same line again and again\n'.repeat(4000));
  const encoded = codec.encode(raw);
  assert.equal(encoded.codec, Codec.Zstd);
  assert.ok(encoded.payload.length < raw.length / 10);
  assert.deepEqual(codec.decode(encoded.codec, encoded.payload, raw.length), raw);
});

test('incompressible chunks are stored raw', () => {
  const codec = new ChunkCodec(3);
  const raw = randomBytes(64 * 1024);
  assert.equal(codec.encode(raw).codec, Codec.Raw);
});

test('a compressed form that does not decode to the original is never used: the chunk is stored raw', () => {
  const codec = new ChunkCodec(3);
  const raw = Buffer.from('abc'.repeat(10_000));
  // Stands in for a faulty decompressor: one flipped byte in what comes back.
  const decode = codec.decode.bind(codec);
  codec.decode = (kind, payload, size) => {
    const decoded = Buffer.from(decode(kind, payload, size));
    decoded[decoded.length - 1] ^= 1;
    return decoded;
  };
  const encoded = codec.encode(raw);
  assert.equal(encoded.codec, Codec.Raw);
  assert.equal(encoded.payload, raw);
});

test('a frame that decodes to the wrong size, or not at all, is corruption', () => {
  const codec = new ChunkCodec(3);
  const raw = Buffer.from('xyz'.repeat(5000));
  const encoded = codec.encode(raw);
  assert.throws(() => codec.decode(Codec.Zstd, encoded.payload, raw.length + 1), CorruptError);
  assert.throws(() => codec.decode(Codec.Zstd, Buffer.from('not a zstd frame'), 10), CorruptError);
});

test('a frame that holds more than the catalog says is corruption, and its own size header is never trusted', () => {
  const codec = new ChunkCodec(3);
  const raw = Buffer.from('abc'.repeat(100_000));
  const encoded = codec.encode(raw);
  assert.equal(encoded.codec, Codec.Zstd);
  assert.throws(() => codec.decode(Codec.Zstd, encoded.payload, 1000), CorruptError);
});

test('a chunk decodes into a given buffer, zstd and raw alike, and the buffer must be its exact size', () => {
  const codec = new ChunkCodec(3);
  const compressible = Buffer.from('0123456789'.repeat(3000));
  const incompressible = randomBytes(4096);
  for (const raw of [compressible, incompressible]) {
    const encoded = codec.encode(raw);
    const frame = Buffer.alloc(raw.length + 20, 0xee);
    const target = frame.subarray(10, 10 + raw.length);
    assert.equal(codec.decode(encoded.codec, encoded.payload, raw.length, target), target);
    assert.ok(target.equals(raw));
    assert.ok(frame.subarray(0, 10).every((byte) => byte === 0xee) && frame.subarray(10 + raw.length).every((byte) => byte === 0xee));
    assert.throws(() => codec.decode(encoded.codec, encoded.payload, raw.length, Buffer.alloc(raw.length - 1)), RangeError);
  }
  assert.throws(() => codec.decode(Codec.Raw, Buffer.alloc(10), 11, Buffer.alloc(11)), CorruptError);
  // Without a target too: shorter or longer than the catalog says is damage, named as such.
  assert.throws(() => codec.decode(Codec.Raw, Buffer.alloc(10), 11), /raw chunk is 10 bytes, expected 11/);
  assert.throws(() => codec.decode(Codec.Raw, Buffer.alloc(12), 11), CorruptError);
  assert.equal(codec.decode(Codec.Raw, Buffer.alloc(11, 7), 11).length, 11);
});

test('a zstd payload from elsewhere is accepted only as what encode() writes: one frame, smaller than its bytes', () => {
  const codec = new ChunkCodec(3);
  const raw = Buffer.from('the same line again and again\n'.repeat(4000));
  const frame = codec.encode(raw).payload;
  assert.equal(zstdPayloadProblem(frame, raw.length), undefined);
  const skippable = Buffer.alloc(16);
  skippable.writeUInt32LE(0x184d2a50, 0);
  skippable.writeUInt32LE(8, 4);
  const half = raw.length / 2;
  const twoFrames = Buffer.concat([codec.encode(raw.subarray(0, half)).payload, codec.encode(raw.subarray(half)).payload]);
  const problems = {
    skippableFirst: zstdPayloadProblem(Buffer.concat([skippable, frame]), raw.length),
    skippableAfter: zstdPayloadProblem(Buffer.concat([frame, skippable]), raw.length),
    twoFrames: zstdPayloadProblem(twoFrames, raw.length),
    truncated: zstdPayloadProblem(frame.subarray(0, frame.length - 1), raw.length),
    notSmaller: zstdPayloadProblem(frame, frame.length),
    empty: zstdPayloadProblem(Buffer.alloc(0), raw.length),
  };
  for (const [name, problem] of Object.entries(problems)) assert.ok(problem !== undefined, `${name} is accepted`);
});
