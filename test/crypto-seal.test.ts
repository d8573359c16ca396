// Proves encryption at rest below the store: the key file's rules (0600, never overwritten, refused
// when loose), sealed records and sealed files round-trip, and every damage, move or wrong key is
// refused with the right typed error (CorruptError vs WrongKeyError), never returned as data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConfigError, CorruptError } from '../src/common/errors';
import { createKeyFile, loadKeyFile } from '../src/chunkstore/crypto/key-file';
import { assertStoreKey, StoreKey, WrongKeyError } from '../src/chunkstore/crypto/store-key';
import { RecordSealer, SEALED_RECORD_OVERHEAD } from '../src/chunkstore/crypto/record-seal';
import { OpenStream, SealStream } from '../src/chunkstore/crypto/file-seal';
import { openSealedFile, sealFile } from '../src/chunkstore/crypto/sealed-file';
import { testBytes as bytes } from './support/test-bytes';


const keyA = new StoreKey(bytes('key a', 32), 'key file a');
const keyB = new StoreKey(bytes('key b', 32), 'key file b');

function tempFolder(t: { after: (fn: () => void) => void }): string {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'cpsbackup-crypto-'));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  return folder;
}

async function through(stream: Transform, input: Buffer): Promise<Buffer> {
  const parts: Buffer[] = [];
  await pipeline(Readable.from([input]), stream, async (source: AsyncIterable<Buffer>) => {
    for await (const part of source) parts.push(part);
  });
  return Buffer.concat(parts);
}

function flipBit(data: Buffer, bit: number): Buffer {
  const copy = Buffer.from(data);
  copy[bit >> 3] ^= 1 << (bit & 7);
  return copy;
}

test('key file: made with mode 0600, never overwritten, loaded back to the same key', async (t) => {
  const folder = tempFolder(t);
  const file = path.join(folder, 'store.key');
  const made = await createKeyFile(file);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.match(readFileSync(file, 'utf8'), /^cpsbackup-key-v1 [A-Za-z0-9+/]{43}=$/m);
  const before = readFileSync(file);
  await assert.rejects(createKeyFile(file), (error: unknown) => error instanceof ConfigError && /already exists.*never overwritten/.test(error.message));
  assert.deepEqual(readFileSync(file), before, 'the existing key file is untouched');
  const loaded = await loadKeyFile(file);
  assert.equal(loaded.keyIdHex, made.keyIdHex);
  assert.equal((await createKeyFile(path.join(folder, 'other.key'))).keyIdHex === made.keyIdHex, false, 'each key is random');
});

test('key file: refused when group or others may read it, or when it is not a key file; the key is never quoted', async (t) => {
  const folder = tempFolder(t);
  const file = path.join(folder, 'store.key');
  await createKeyFile(file);
  const secretLine = readFileSync(file, 'utf8').split('\n').find((line) => line.startsWith('cpsbackup-key-v1')) ?? '';
  chmodSync(file, 0o640);
  await assert.rejects(loadKeyFile(file), (error: unknown) => error instanceof ConfigError && /mode 0640.*chmod 600/.test(error.message));
  chmodSync(file, 0o604);
  await assert.rejects(loadKeyFile(file), /group or others/);
  const damaged = path.join(folder, 'damaged.key');
  writeFileSync(damaged, `${secretLine}x\n`, { mode: 0o600 });
  await assert.rejects(loadKeyFile(damaged), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.line, 1);
    assert.equal(error.message.includes(secretLine.split(' ')[1]), false, 'the message must not quote the key');
    return true;
  });
  await assert.rejects(loadKeyFile(path.join(folder, 'missing.key')), /not found/);
});

test('store key: the key id recorded by the store tells a wrong key file at once', () => {
  assert.doesNotThrow(() => assertStoreKey(keyA, keyA.keyIdHex, 's3://bucket/'));
  assert.throws(() => assertStoreKey(keyB, keyA.keyIdHex, 's3://bucket/'),
    (error: unknown) => error instanceof WrongKeyError && error.code === 'AUTH' && /s3:\/\/bucket\/ was encrypted with key .* key file b/.test(error.message));
  assert.equal(JSON.stringify(keyA).includes('key a'), false);
});

test('sealed records: round trip at every size, a fresh nonce each time, fixed overhead', () => {
  const sealer = new RecordSealer(keyA, 'store-1');
  for (const size of [0, 1, 44, 1000, 1024 * 1024 + 3]) {
    const plain = bytes(`record ${size}`, size);
    const sealed = sealer.seal('0a1b2c', 4096, plain);
    assert.equal(sealed.length, size + SEALED_RECORD_OVERHEAD);
    assert.deepEqual(sealer.open('0a1b2c', 4096, sealed), plain);
    // 16 bytes at least: a shorter needle turns up in random ciphertext by chance (1 byte: about one run in seven).
    if (size >= 16) assert.equal(sealed.includes(plain.subarray(0, 16)), false, 'no plaintext in the sealed bytes');
  }
  const plain = bytes('same', 100);
  assert.notDeepEqual(sealer.seal('p', 0, plain), sealer.seal('p', 0, plain));
});

test('sealed records: any single flipped bit, anywhere, is CorruptError (never data, never "wrong key")', () => {
  const sealer = new RecordSealer(keyA, 'store-1');
  const sealed = sealer.seal('pack01', 123, bytes('small', 64));
  for (let bit = 0; bit < sealed.length * 8; bit++) {
    assert.throws(() => sealer.open('pack01', 123, flipBit(sealed, bit)), CorruptError, `bit ${bit} flipped`);
  }
  const big = sealer.seal('pack01', 0, bytes('big', 256 * 1024));
  for (const bit of [0, 8, 9 * 8, 21 * 8, 100_000 * 8 + 3, big.length * 8 - 1]) {
    assert.throws(() => sealer.open('pack01', 0, flipBit(big, bit)), CorruptError, `bit ${bit} flipped`);
  }
  assert.throws(() => sealer.open('pack01', 0, big.subarray(0, big.length - 1)), CorruptError, 'one byte short');
  assert.throws(() => sealer.open('pack01', 0, big.subarray(0, 20)), /shorter than its 37-byte envelope/);
});

test('sealed records: bound to store, pack and offset; another key is WrongKeyError', () => {
  const sealer = new RecordSealer(keyA, 'store-1');
  const sealed = sealer.seal('pack01', 123, bytes('bound', 500));
  assert.throws(() => sealer.open('pack01', 124, sealed), CorruptError, 'another offset');
  assert.throws(() => sealer.open('pack02', 123, sealed), CorruptError, 'another pack');
  assert.throws(() => new RecordSealer(keyA, 'store-2').open('pack01', 123, sealed), CorruptError, 'another store');
  assert.throws(() => new RecordSealer(keyB, 'store-1').open('pack01', 123, sealed),
    (error: unknown) => error instanceof WrongKeyError && /sealed with key [0-9a-f]{16}, not with key file b/.test(error.message));
});

test('sealed files: round trip at segment edges; truncated, extended or flipped files are refused', async () => {
  const log2 = 10;
  const segment = 2 ** log2;
  const context = { storeId: 'store-1', name: 'catalog-000001' };
  for (const size of [0, 1, segment - 1, segment, segment + 1, 3 * segment + 17]) {
    const plain = bytes(`file ${size}`, size);
    const sealed = await through(new SealStream(keyA, context, log2), plain);
    assert.deepEqual(await through(new OpenStream(keyA, context), sealed), plain, `size ${size}`);
  }
  const plain = bytes('file damage', 3 * segment + 17);
  const sealed = await through(new SealStream(keyA, context, log2), plain);
  const frame = 5 + segment + 16;
  const header = 52;
  // Cut at every frame boundary (a whole segment missing) and inside frames.
  for (const cut of [0, 10, header, header + 3, header + frame, header + 2 * frame, header + 3 * frame, sealed.length - 1]) {
    await assert.rejects(through(new OpenStream(keyA, context), sealed.subarray(0, cut)), CorruptError, `cut at ${cut}`);
  }
  await assert.rejects(through(new OpenStream(keyA, context), Buffer.concat([sealed, Buffer.from([0])])), /after its last segment/);
  // A whole frame dropped from the middle, and two frames swapped.
  const frames = [0, 1, 2].map((index) => sealed.subarray(header + index * frame, header + (index + 1) * frame));
  const last = sealed.subarray(header + 3 * frame);
  await assert.rejects(through(new OpenStream(keyA, context), Buffer.concat([sealed.subarray(0, header), frames[0], frames[2], last])), CorruptError);
  await assert.rejects(through(new OpenStream(keyA, context), Buffer.concat([sealed.subarray(0, header), frames[1], frames[0], frames[2], last])), CorruptError);
  for (let byte = 0; byte < sealed.length; byte += byte < header + 8 ? 1 : 97) {
    await assert.rejects(through(new OpenStream(keyA, context), flipBit(sealed, byte * 8 + (byte % 8))), CorruptError, `byte ${byte} flipped`);
  }
  await assert.rejects(through(new OpenStream(keyA, { ...context, name: 'catalog-000002' }), sealed), CorruptError, 'another name');
  await assert.rejects(through(new OpenStream(keyB, context), sealed), WrongKeyError, 'another key');
});

test('sealed files on disk: compressed then sealed; a failed open leaves the target as it was', async (t) => {
  const folder = tempFolder(t);
  const source = path.join(folder, 'catalog.db');
  // Compressible text with a canary, as a catalog would hold file names.
  const text = Array.from({ length: 40_000 }, (_, index) => `/srv/app/CANARY-PLAINTEXT/file-${index}.txt\n`).join('');
  writeFileSync(source, text);
  const sealed = path.join(folder, 'catalog.sealed');
  const context = { storeId: 'store-1', name: 'catalog-000007' };
  await sealFile(keyA, context, source, sealed);
  const sealedBytes = readFileSync(sealed);
  assert.ok(sealedBytes.length < text.length / 4, `compressed before sealing (${sealedBytes.length} bytes)`);
  assert.equal(sealedBytes.includes('CANARY-PLAINTEXT'), false);
  const restored = path.join(folder, 'restored.db');
  await openSealedFile(keyA, context, sealed, restored);
  assert.equal(readFileSync(restored, 'utf8'), text);

  writeFileSync(restored, 'previous content');
  await assert.rejects(openSealedFile(keyB, context, sealed, restored), WrongKeyError);
  writeFileSync(sealed, sealedBytes.subarray(0, sealedBytes.length - 30));
  await assert.rejects(openSealedFile(keyA, context, sealed, restored), CorruptError);
  assert.equal(readFileSync(restored, 'utf8'), 'previous content');
});
