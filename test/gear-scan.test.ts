// Proves the native gear-hash scan (native/gear.c) computes what FastCDC's original TypeScript loop
// computed, cut for cut and hash for hash, at every mask the chunker uses and across buffer ends;
// and that bad arguments are refused rather than read past a buffer. The golden tests in
// chunker.test.ts pin whole chunk lists; this one pins the primitive on inputs made to hit edges.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { posixAddon } from '../src/client/posix/addon';
import { GEAR_TABLE } from '../src/chunkstore/chunker/gear';
import { highBitsMask } from '../src/chunkstore/chunker/fastcdc';
import { fillSeeded } from '../src/chunkstore/chunker/prng';

/** The loop as it was in TypeScript (fastcdc.ts before the native scan), kept here as the reference. */
function referenceFindCut(data: Buffer, from: number, end: number, mask: number, hashState: Int32Array): number {
  let hash = hashState[0];
  for (let index = from; index < end; index++) {
    hash = ((hash << 1) + GEAR_TABLE[data[index]]) | 0;
    if ((hash & mask) === 0) {
      hashState[0] = hash;
      return index + 1;
    }
  }
  hashState[0] = hash;
  return -1;
}

const { gearFindCut } = posixAddon();

test('every cut and carried hash matches the reference, for masks of 0 to 32 bits', () => {
  const data = fillSeeded(Buffer.alloc(1 << 20), 7) as Buffer;
  for (let bits = 0; bits <= 32; bits += bits < 20 ? 1 : 4) {
    const mask = highBitsMask(bits);
    const nativeState = new Int32Array([0x5eed]);
    const referenceState = new Int32Array([0x5eed]);
    let nativeFrom = 0;
    let referenceFrom = 0;
    // Scans in windows that end at odd places, so a hash carried from one window into the next is checked too.
    for (let windowEnd = 777; nativeFrom < data.length; windowEnd = Math.min(data.length, windowEnd + 65_537)) {
      const nativeCut = gearFindCut(data, nativeFrom, windowEnd, mask, nativeState, GEAR_TABLE);
      const referenceCut = referenceFindCut(data, referenceFrom, windowEnd, mask, referenceState);
      assert.equal(nativeCut, referenceCut, `mask of ${bits} bits, window ending at ${windowEnd}`);
      assert.equal(nativeState[0], referenceState[0], `hash after the scan, mask of ${bits} bits`);
      nativeFrom = referenceFrom = nativeCut < 0 ? windowEnd : nativeCut;
      if (nativeCut >= 0) nativeState[0] = referenceState[0] = 0;
    }
  }
});

test('an empty range cuts nothing and keeps the hash; a cut at the last byte is found', () => {
  const data = fillSeeded(Buffer.alloc(4096), 3) as Buffer;
  const state = new Int32Array([1234]);
  assert.equal(gearFindCut(data, 100, 100, 0, state, GEAR_TABLE), -1);
  assert.equal(state[0], 1234);
  // With mask 0 every byte is a cut: the first byte of the range gives from + 1, the last one length.
  assert.equal(gearFindCut(data, 10, 20, 0, state, GEAR_TABLE), 11);
  assert.equal(gearFindCut(data, data.length - 1, data.length, 0, state, GEAR_TABLE), data.length);
});

test('a Buffer that is a view into a larger one is scanned from its own start', () => {
  const whole = fillSeeded(Buffer.alloc(8192), 11) as Buffer;
  const view = whole.subarray(1000, 5000);
  const mask = highBitsMask(6);
  const viewState = new Int32Array(1);
  const copyState = new Int32Array(1);
  assert.equal(gearFindCut(view, 0, view.length, mask, viewState, GEAR_TABLE), gearFindCut(Buffer.from(view), 0, view.length, mask, copyState, GEAR_TABLE));
  assert.equal(viewState[0], copyState[0]);
});

test('a range past the data, or arrays of the wrong kind or size, are refused', () => {
  const data = Buffer.alloc(64);
  const state = new Int32Array(1);
  assert.throws(() => gearFindCut(data, 0, 65, 0, state, GEAR_TABLE), /within data/);
  assert.throws(() => gearFindCut(data, 10, 5, 0, state, GEAR_TABLE), /within data/);
  assert.throws(() => gearFindCut(data, -1, 5, 0, state, GEAR_TABLE), /unsigned 32-bit/);
  assert.throws(() => gearFindCut(data, 0, 5, 0, new Int32Array(0), GEAR_TABLE), /state needs one element/);
  assert.throws(() => gearFindCut(data, 0, 5, 0, state, new Int32Array(255)), /gear 256/);
  assert.throws(() => gearFindCut(data, 0, 5, 0, new Uint32Array(1) as unknown as Int32Array, GEAR_TABLE), /state must be an Int32Array/);
  assert.throws(() => gearFindCut('text' as unknown as Buffer, 0, 1, 0, state, GEAR_TABLE), /data must be a Buffer/);
});
