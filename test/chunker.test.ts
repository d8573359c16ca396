// Proves the chunker contract on every implementation (fastcdc, rabin) with one shared suite,
// and pins fastcdc's and rabin's boundaries with golden values so dedup across versions cannot break silently.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Chunker, ChunkerFactory, ChunkerName, ChunkerParams } from '../src/chunkstore/chunker/chunker';
import { DEFAULT_CHUNKER_PARAMS, loadChunkerFactory, parseChunkerName } from '../src/chunkstore/chunker/registry';
import { fillSeeded, splitmix32 } from '../src/chunkstore/chunker/prng';

const KIB = 1024;
const MIB = 1024 * KIB;
/** Small sizes give many boundaries in a few MiB, so the suite stays quick on rabin-wasm. */
const SMALL_SIZES = { minSize: 2 * KIB, avgSize: 8 * KIB, maxSize: 32 * KIB };
const NAMES: readonly ChunkerName[] = ['fastcdc', 'rabin'];

function seededBytes(size: number, seed: number): Buffer {
  return fillSeeded(Buffer.alloc(size), seed) as Buffer;
}

/** Log-like lines from a small vocabulary: low entropy, long repeats, like real dumps. */
function seededText(size: number, seed: number): Buffer {
  const words = ['backup', 'chunk', 'client', 'server', 'mongo', 'collection', 'id', 'ok', 'error', 'status', '{', '}', '"name":', '2024-05-01T10:00:00Z'];
  const next = splitmix32(seed);
  const parts: string[] = [];
  let length = 0;
  while (length < size) {
    const word = next() % 7 === 0 ? `${next() % 100000}\n` : `${words[next() % words.length]} `;
    parts.push(word);
    length += word.length;
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}

function chunkWhole(chunker: Chunker, input: Buffer): Buffer[] {
  return [...chunker.push(input), ...chunker.finish()];
}

/** Pushes `input` in pieces whose sizes come from a seeded mix of tiny, medium and large. */
function chunkInPieces(chunker: Chunker, input: Buffer, seed: number): Buffer[] {
  const next = splitmix32(seed);
  const limits = [16, 4 * KIB, 200 * KIB];
  const chunks: Buffer[] = [];
  for (let start = 0; start < input.length; ) {
    const end = Math.min(input.length, start + 1 + (next() % limits[next() % limits.length]));
    chunks.push(...chunker.push(input.subarray(start, end)));
    start = end;
  }
  chunks.push(...chunker.finish());
  return chunks;
}

function lengths(chunks: Buffer[]): number[] {
  return chunks.map((chunk) => chunk.length);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function assertSizesWithin(chunks: Buffer[], params: ChunkerParams): void {
  chunks.forEach((chunk, index) => {
    const isLast = index === chunks.length - 1;
    assert.ok(chunk.length <= params.maxSize, `chunk ${index} has ${chunk.length} > max ${params.maxSize}`);
    assert.ok(chunk.length >= (isLast ? 1 : params.minSize), `chunk ${index} of ${chunks.length} has ${chunk.length} bytes`);
  });
}

async function factoryFor(name: ChunkerName, sizes = SMALL_SIZES): Promise<ChunkerFactory> {
  return loadChunkerFactory({ name, ...sizes });
}

for (const name of NAMES) {
  test(`${name}: chunks concatenate to the input and respect min/max`, async () => {
    const factory = await factoryFor(name);
    for (const input of [seededBytes(3 * MIB, 1), seededText(2 * MIB, 2), Buffer.alloc(MIB)]) {
      const chunks = chunkWhole(factory.create(), input);
      assert.ok(Buffer.concat(chunks).equals(input));
      assertSizesWithin(chunks, factory.params);
      assert.ok(chunks.length >= input.length / factory.params.maxSize);
    }
  });

  test(`${name}: boundaries do not depend on how the stream is split into push() calls`, async () => {
    const factory = await factoryFor(name);
    for (const [index, input] of [seededBytes(3 * MIB, 3), seededText(MIB, 4)].entries()) {
      const whole = chunkWhole(factory.create(), input);
      for (const seed of [10, 11, 12]) {
        const pieces = chunkInPieces(factory.create(), input, seed + index * 100);
        assert.deepEqual(lengths(pieces), lengths(whole), `split seed ${seed}`);
        assert.ok(Buffer.concat(pieces).equals(input));
      }
    }
  });

  test(`${name}: an empty stream gives no chunk, a tiny one gives one`, async () => {
    const factory = await factoryFor(name);
    assert.deepEqual(factory.create().finish(), []);
    const chunker = factory.create();
    assert.deepEqual(chunker.push(Buffer.alloc(0)), []);
    assert.deepEqual(chunker.finish(), []);
    const tiny = Buffer.from('x');
    assert.deepEqual(chunkWhole(factory.create(), tiny), [tiny]);
  });

  test(`${name}: after finish() the same chunker starts a fresh stream`, async () => {
    const factory = await factoryFor(name);
    const chunker = factory.create();
    const first = seededBytes(200 * KIB + 17, 5);
    const second = seededBytes(MIB, 6);
    chunkWhole(chunker, first);
    assert.deepEqual(lengths(chunkWhole(chunker, second)), lengths(chunkWhole(factory.create(), second)));
  });

  test(`${name}: bytes kept between pushes are copied, so the caller may reuse its buffer`, async () => {
    const factory = await factoryFor(name);
    const input = seededBytes(100 * KIB, 7);
    const expected = chunkWhole(factory.create(), input).map((chunk) => Buffer.from(chunk));
    const chunker = factory.create();
    const reused = Buffer.alloc(10 * KIB);
    const chunks: Buffer[] = [];
    for (let start = 0; start < input.length; start += reused.length) {
      const size = input.copy(reused, 0, start, start + reused.length);
      for (const chunk of chunker.push(reused.subarray(0, size))) chunks.push(Buffer.from(chunk));
    }
    chunks.push(...chunker.finish());
    reused.fill(0);
    assert.deepEqual(chunks.map(sha256), expected.map(sha256));
  });

  test(`${name}: an insertion near the start leaves most later chunks identical`, async () => {
    const factory = await factoryFor(name);
    const original = seededBytes(4 * MIB, 8);
    const edited = Buffer.concat([original.subarray(0, 1000), seededBytes(100, 9), original.subarray(1000)]);
    const before = new Set(chunkWhole(factory.create(), original).map(sha256));
    const after = chunkWhole(factory.create(), edited).map(sha256);
    const shared = after.filter((id) => before.has(id)).length;
    assert.ok(shared >= after.length - 3, `only ${shared} of ${after.length} chunks survived a 100-byte insertion`);
  });

  test(`${name}: default-size chunks stay within bounds on 12 MiB`, async () => {
    const factory = await loadChunkerFactory({ ...DEFAULT_CHUNKER_PARAMS, name });
    const input = seededBytes(12 * MIB, 10);
    const chunks = chunkInPieces(factory.create(), input, 13);
    assertSizesWithin(chunks, factory.params);
    assert.ok(Buffer.concat(chunks).equals(input));
  });
}

test('loadChunkerFactory refuses bad params with a message naming the value', async () => {
  const bad: Array<[Partial<ChunkerParams>, RegExp]> = [
    [{ name: 'zip' as ChunkerName }, /unknown chunker "zip"/],
    [{ minSize: 0 }, /minSize must be a positive integer/],
    [{ avgSize: 1.5 }, /avgSize must be a positive integer/],
    [{ minSize: 32 }, /minSize 32 is below 64/],
    [{ minSize: 2 * MIB }, /minSize < avgSize < maxSize/],
    [{ maxSize: 1024 * MIB }, /maxSize .* is above/],
  ];
  for (const [change, message] of bad) {
    await assert.rejects(loadChunkerFactory({ ...DEFAULT_CHUNKER_PARAMS, ...change }), message);
  }
});

test('parseChunkerName knows fastcdc and rabin only', () => {
  assert.equal(parseChunkerName('fastcdc'), 'fastcdc');
  assert.equal(parseChunkerName(' Rabin '), 'rabin');
  assert.equal(parseChunkerName('gear'), undefined);
  assert.equal(parseChunkerName(''), undefined);
});

test('the default chunker is fastcdc 32K/128K/512K', () => {
  assert.deepEqual({ ...DEFAULT_CHUNKER_PARAMS }, { name: 'fastcdc', minSize: 32 * KIB, avgSize: 128 * KIB, maxSize: 512 * KIB });
});

// GOLDEN VALUES. Chunk boundaries decide which chunks dedup against a store written by an
// earlier version. If one of these tests fails, the change breaks dedup for every existing
// store: revert it, or ship it as a new chunker name/version recorded in the store's config.
const GOLDEN_INPUT_SEED = 0x5eed;
const GOLDEN_INPUT_SIZE = 8 * MIB;
const GOLDEN_SIZES = { minSize: 64 * KIB, avgSize: 256 * KIB, maxSize: MIB };
const GOLDEN_INPUT_SHA256 = '07507755347092bf73119886733d23c2bade93febdef9940c1a64a0222f42164';

test('golden: the seeded input itself is unchanged (else the golden tests below prove nothing)', () => {
  assert.equal(sha256(seededBytes(GOLDEN_INPUT_SIZE, GOLDEN_INPUT_SEED)), GOLDEN_INPUT_SHA256);
});

test('golden: fastcdc 64K/256K/1M boundaries on 8 MiB of seeded bytes', async () => {
  const factory = await loadChunkerFactory({ name: 'fastcdc', ...GOLDEN_SIZES });
  const chunks = chunkWhole(factory.create(), seededBytes(GOLDEN_INPUT_SIZE, GOLDEN_INPUT_SEED));
  assert.deepEqual(lengths(chunks), GOLDEN_FASTCDC_LENGTHS);
  assert.equal(sha256(chunks[0]), GOLDEN_FASTCDC_FIRST_SHA256);
});

test('golden: fastcdc default params boundaries on 8 MiB of seeded bytes', async () => {
  const factory = await loadChunkerFactory(DEFAULT_CHUNKER_PARAMS);
  const chunks = chunkWhole(factory.create(), seededBytes(GOLDEN_INPUT_SIZE, GOLDEN_INPUT_SEED));
  assert.deepEqual(lengths(chunks), GOLDEN_FASTCDC_DEFAULT_LENGTHS);
  assert.equal(sha256(chunks[0]), GOLDEN_FASTCDC_DEFAULT_FIRST_SHA256);
});

test('golden: fastcdc 256K/1M/4M (the default of stores made by earlier builds) boundaries on 8 MiB of seeded bytes', async () => {
  const factory = await loadChunkerFactory({ name: 'fastcdc', minSize: 256 * KIB, avgSize: MIB, maxSize: 4 * MIB });
  const chunks = chunkWhole(factory.create(), seededBytes(GOLDEN_INPUT_SIZE, GOLDEN_INPUT_SEED));
  assert.deepEqual(lengths(chunks), GOLDEN_FASTCDC_1M_LENGTHS);
});

test('golden: rabin 64K/256K/1M boundaries on 8 MiB of seeded bytes', async () => {
  const factory = await loadChunkerFactory({ name: 'rabin', ...GOLDEN_SIZES });
  const chunks = chunkWhole(factory.create(), seededBytes(GOLDEN_INPUT_SIZE, GOLDEN_INPUT_SEED));
  assert.deepEqual(lengths(chunks), GOLDEN_RABIN_LENGTHS);
  assert.equal(sha256(chunks[0]), GOLDEN_RABIN_FIRST_SHA256);
});

const GOLDEN_FASTCDC_LENGTHS = [
  289570, 310664, 273654, 267280, 325504, 267076, 189314, 71637, 351738, 270952,
  263320, 269908, 401837, 267908, 302348, 276531, 263793, 401406, 250313, 351875,
  124665, 337627, 356182, 182924, 432054, 270559, 264107, 188428, 325833, 139383,
  100218,
];
const GOLDEN_FASTCDC_FIRST_SHA256 = 'db4077f6f20ecc0aed549366056550f4e873d3998a9123c85578196c900bb51b';
const GOLDEN_FASTCDC_DEFAULT_LENGTHS = [
  136071, 100198, 79448, 284517, 137310, 136344, 163906, 148183, 155095, 142331,
  158381, 141567, 139711, 71637, 150289, 174931, 225494, 121217, 131393, 82686,
  149999, 119909, 165730, 52595, 183512, 267908, 135234, 167114, 268668, 150816,
  184720, 131406, 172174, 65697, 138531, 80031, 165136, 186739, 124665, 150777,
  159547, 200296, 87519, 151330, 127264, 196850, 217317, 170754, 109264, 150809,
  37496, 84230, 116542, 71886, 122366, 160141, 155942, 126985,
];
const GOLDEN_FASTCDC_DEFAULT_FIRST_SHA256 = 'd3b228daac3be962b9bef68c4d359854706919fdc11ca461cda0122b3f1c31fc';
const GOLDEN_FASTCDC_1M_LENGTHS = [
  1793972, 1086737, 1755848, 1154736, 1099505, 1054742, 443068,
];
const GOLDEN_RABIN_LENGTHS = [
  68083, 83429, 466043, 282344, 75334, 407893, 290756, 322798, 186378, 124922,
  74283, 157556, 561244, 166468, 362996, 133192, 655157, 651870, 139665, 86562,
  178820, 347308, 579871, 201886, 95742, 492697, 160638, 85136, 316300, 80820,
  65684, 87209, 326947, 72577,
];
const GOLDEN_RABIN_FIRST_SHA256 = 'c8cfb439b9673caf1fe0eaa07bf9a24443de88757fc23d487a741df233a7bf2c';
