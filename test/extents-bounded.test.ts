// Proves the bound on a sparse file's extent list: past MAX_EXTENTS the smallest holes are filled
// (read and restored as data), every byte of data stays covered and the file's span is unchanged.
// Regression: a 10 GB table punched every 16 KiB (650,000 extents) sent its whole list in one entry,
// over the 4 MiB message limit, and the whole backup failed every night.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boundedExtents, extentBytes, type DataExtent } from '../src/client/posix/data-extents';
import { MAX_EXTENTS } from '../src/common/entry-limits';
import { checkExtents } from '../src/client/restore-tree/extent-writer';

/** `count` extents of 1-16 KiB of data, with holes of 4 KiB to 1 MiB between them, from a fixed seed. */
function manyExtents(count: number): DataExtent[] {
  let state = 0x2545f491;
  const next = (below: number): number => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    return state % below;
  };
  const extents: DataExtent[] = [];
  let offset = 8192;
  for (let index = 0; index < count; index++) {
    const length = 4096 * (1 + next(4));
    extents.push({ offset, length });
    offset += length + 4096 * (1 + next(256));
  }
  return extents;
}

/** The holes between consecutive extents, each with where it starts. */
function holesOf(extents: readonly DataExtent[]): { start: number; length: number }[] {
  return extents.slice(1).map((extent, index) => {
    const end = extents[index].offset + extents[index].length;
    return { start: end, length: extent.offset - end };
  });
}

test('200,000 extents come down to MAX_EXTENTS, filling only the smallest holes', () => {
  const original = manyExtents(200_000);
  const bounded = boundedExtents(original, MAX_EXTENTS);
  assert.equal(bounded.length, MAX_EXTENTS);
  const last = original[original.length - 1];
  const size = last.offset + last.length + 12_345;
  checkExtents(bounded, size);
  assert.equal(bounded[0].offset, original[0].offset, 'the file starts where it did');
  assert.equal(bounded[bounded.length - 1].offset + bounded[bounded.length - 1].length, last.offset + last.length, 'and ends where it did');

  // Every original extent lies inside one bounded extent: no byte of data is dropped.
  let at = 0;
  for (const extent of original) {
    while (bounded[at].offset + bounded[at].length <= extent.offset) at++;
    assert.ok(bounded[at].offset <= extent.offset && extent.offset + extent.length <= bounded[at].offset + bounded[at].length,
      `data at ${extent.offset}+${extent.length} is covered`);
  }

  // The holes kept are a subset of the original ones, and none is smaller than any filled one.
  const originalHoles = holesOf(original);
  const keptStarts = new Set(holesOf(bounded).map((hole) => hole.start));
  const kept = originalHoles.filter((hole) => keptStarts.has(hole.start));
  const filled = originalHoles.filter((hole) => !keptStarts.has(hole.start));
  assert.equal(kept.length, MAX_EXTENTS - 1);
  assert.equal(filled.length, original.length - MAX_EXTENTS);
  const largestFilled = filled.reduce((largest, hole) => Math.max(largest, hole.length), 0);
  const smallestKept = kept.reduce((smallest, hole) => Math.min(smallest, hole.length), Infinity);
  assert.ok(largestFilled <= smallestKept, `a hole of ${largestFilled} bytes filled while one of ${smallestKept} was kept`);
  const filledBytes = filled.reduce((total, hole) => total + hole.length, 0);
  assert.equal(extentBytes(bounded), extentBytes(original) + filledBytes, 'the data grows by exactly the holes filled');
});

test('holes of equal size are filled first to last, exactly as many as needed', () => {
  const even: DataExtent[] = Array.from({ length: 10 }, (_, index) => ({ offset: index * 8192, length: 4096 }));
  assert.deepEqual(boundedExtents(even, 7), [
    { offset: 0, length: 4 * 8192 - 4096 },
    { offset: 4 * 8192, length: 4096 }, { offset: 5 * 8192, length: 4096 }, { offset: 6 * 8192, length: 4096 },
    { offset: 7 * 8192, length: 4096 }, { offset: 8 * 8192, length: 4096 }, { offset: 9 * 8192, length: 4096 },
  ]);
  assert.deepEqual(boundedExtents(even, 1), [{ offset: 0, length: 9 * 8192 + 4096 }], 'down to one: every hole filled');
});

test('extents within the limit are kept as they are', () => {
  const few = manyExtents(1000);
  assert.equal(boundedExtents(few, MAX_EXTENTS), few);
  assert.deepEqual(boundedExtents([], MAX_EXTENTS), []);
  assert.throws(() => boundedExtents(few, 0), RangeError);
});
