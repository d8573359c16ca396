// SipHash-2-4 (server/siphash.ts), the keyed hash of the paths a backup received (seen-paths.ts): its
// answers are the reference's, checked against OpenSSL's SIPHASH (the paper's vectors: key 00..0f,
// message 00 01 .. n-1), for messages ending inside a block, on its end, and past it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sipHash, sipKey } from '../src/server/siphash';

/** Message length → SipHash-2-4 as OpenSSL prints it (the 64-bit value's little-endian bytes). */
const REFERENCE: Readonly<Record<number, string>> = {
  0: '310e0edd47db6f72',
  1: 'fd67dc93c539f874',
  7: '37d1018bf50002ab',
  8: '6224939a79f5f593',
  9: 'b0e4a90bdf82009e',
  15: 'e545be4961ca29a1',
  16: 'db9bc2577fcc2a3f',
  63: '724506eb4c328a95',
};

function hashHex(key: Buffer, message: Buffer): string {
  const out = new Uint32Array(2);
  sipHash(sipKey(key), message, out);
  const bytes = Buffer.alloc(8);
  bytes.writeUInt32LE(out[0], 0);
  bytes.writeUInt32LE(out[1], 4);
  return bytes.toString('hex');
}

test('SipHash-2-4 gives the reference vectors', () => {
  const key = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
  for (const [length, expected] of Object.entries(REFERENCE)) {
    const message = Buffer.from(Array.from({ length: Number(length) }, (_, index) => index));
    assert.equal(hashHex(key, message), expected, `message of ${length} bytes`);
  }
});

test('another key gives another hash, and a key of other than 16 bytes is refused', () => {
  const message = Buffer.from('/srv/data/file');
  assert.notEqual(hashHex(Buffer.alloc(16, 1), message), hashHex(Buffer.alloc(16, 2), message));
  assert.throws(() => sipKey(Buffer.alloc(15)), RangeError);
});
