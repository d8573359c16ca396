// Micro-benchmark of the server's per-byte work: chunking (fastcdc, rabin-wasm), SHA-256, zstd.
// Usage: node dist/bench/chunker-micro.js [sizeMiB]   (default 64; prints one table)

import { createHash } from 'node:crypto';
import { compress, decompress } from 'zstd-napi';
import type { ChunkerName, ChunkerParams } from '../src/chunkstore/chunker/chunker';
import { DEFAULT_CHUNKER_PARAMS, loadChunkerFactory } from '../src/chunkstore/chunker/registry';
import { fillSeeded, splitmix32 } from '../src/chunkstore/chunker/prng';

const KIB = 1024;
const MIB = 1024 * KIB;
/** Pushes of this size, as a stream of protocol data frames would arrive. */
const PUSH_SIZE = 64 * KIB;
/** zstd works per chunk in the store: compress blocks of the default average chunk size. */
const COMPRESS_BLOCK = MIB;
const REPEATS = 3;

interface Row {
  readonly measure: string;
  readonly data: string;
  readonly mibPerSecond?: number;
  readonly note?: string;
}

/** JSON-ish records and log lines from a seeded vocabulary: compresses like real dumps, not like zeros. */
function seededText(size: number, seed: number): Buffer {
  const words = ['backup', 'client', 'server', 'chunk', 'collection', 'alarm', 'event', 'status', 'ok', 'error', 'retry', 'timeout', 'user', 'order'];
  const next = splitmix32(seed);
  const target = Buffer.alloc(size);
  let length = 0;
  while (length < size) {
    const line = next() % 3 === 0
      ? `2024-05-${String(1 + (next() % 28)).padStart(2, '0')}T${next() % 24}:${next() % 60}:${next() % 60}Z ${words[next() % words.length]} ${words[next() % words.length]} id=${next() % 1000000}\n`
      : `{"_id":"${next().toString(16)}${next().toString(16)}","name":"${words[next() % words.length]}","count":${next() % 5000},"state":"${words[next() % words.length]}"}\n`;
    length += target.write(line, length);
  }
  return target;
}

/** Best of a few runs: the machine is shared, the fastest run is the least disturbed one. */
function bestMibPerSecond(size: number, run: () => void): number {
  let best = 0;
  for (let repeat = 0; repeat < REPEATS; repeat++) {
    const started = process.hrtime.bigint();
    run();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    best = Math.max(best, size / MIB / seconds);
  }
  return best;
}

async function chunkLengths(params: ChunkerParams, input: Buffer): Promise<number[]> {
  const chunker = (await loadChunkerFactory(params)).create();
  const lengths: number[] = [];
  for (let start = 0; start < input.length; start += PUSH_SIZE) {
    for (const chunk of chunker.push(input.subarray(start, start + PUSH_SIZE))) lengths.push(chunk.length);
  }
  for (const chunk of chunker.finish()) lengths.push(chunk.length);
  return lengths;
}

async function chunkingRows(name: ChunkerName, inputs: ReadonlyArray<[string, Buffer]>): Promise<Row[]> {
  const factory = await loadChunkerFactory({ ...DEFAULT_CHUNKER_PARAMS, name });
  return inputs.map(([label, input]) => ({
    measure: `${name} chunking (${DEFAULT_CHUNKER_PARAMS.avgSize / KIB} KiB avg)`,
    data: label,
    mibPerSecond: bestMibPerSecond(input.length, () => {
      const chunker = factory.create();
      for (let start = 0; start < input.length; start += PUSH_SIZE) chunker.push(input.subarray(start, start + PUSH_SIZE));
      chunker.finish();
    }),
  }));
}

function zstdRows(text: Buffer): Row[] {
  return [1, 3, 6].flatMap((level) => {
    let compressedSize = 0;
    const compressed: Buffer[] = [];
    const compressSpeed = bestMibPerSecond(text.length, () => {
      compressedSize = 0;
      compressed.length = 0;
      for (let start = 0; start < text.length; start += COMPRESS_BLOCK) {
        const block = compress(text.subarray(start, start + COMPRESS_BLOCK), { compressionLevel: level });
        compressed.push(block);
        compressedSize += block.length;
      }
    });
    const decompressSpeed = bestMibPerSecond(text.length, () => {
      for (const block of compressed) decompress(block);
    });
    return [
      { measure: `zstd level ${level} compress`, data: 'text', mibPerSecond: compressSpeed, note: `ratio ${(text.length / compressedSize).toFixed(2)}` },
      { measure: `zstd level ${level} decompress`, data: 'text', mibPerSecond: decompressSpeed },
    ];
  });
}

async function averageSizeRows(inputs: ReadonlyArray<[string, Buffer]>): Promise<Row[]> {
  const rows: Row[] = [];
  for (const avgSize of [64 * KIB, 256 * KIB, MIB, 2 * MIB]) {
    for (const name of ['fastcdc', 'rabin'] as const) {
      for (const [label, input] of inputs) {
        const lengths = await chunkLengths({ name, minSize: avgSize / 4, avgSize, maxSize: avgSize * 4 }, input);
        const average = input.length / lengths.length;
        const maxed = lengths.filter((length) => length === avgSize * 4).length;
        rows.push({
          measure: `${name} avg chunk, avgSize ${avgSize / KIB} KiB (min/4, max*4)`,
          data: label,
          note: `${(average / KIB).toFixed(0)} KiB over ${lengths.length} chunks, ${maxed} at max`,
        });
      }
    }
  }
  return rows;
}

function printTable(rows: Row[]): void {
  const cells = rows.map((row) => [row.measure, row.data, row.mibPerSecond === undefined ? '' : row.mibPerSecond.toFixed(0), row.note ?? '']);
  const header = ['measure', 'data', 'MiB/s', 'note'];
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((cell) => cell[column].length)));
  const format = (cell: string[]): string => cell.map((value, column) => (column === 2 ? value.padStart(widths[column]) : value.padEnd(widths[column]))).join('  ').trimEnd();
  console.log(format(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const cell of cells) console.log(format(cell));
}

async function main(): Promise<void> {
  const sizeMib = Number(process.argv[2] ?? 64);
  if (!Number.isInteger(sizeMib) || sizeMib <= 0) throw new Error(`size must be a positive whole number of MiB, got ${process.argv[2]}`);
  const size = sizeMib * MIB;
  const random = fillSeeded(Buffer.alloc(size), 1) as Buffer;
  const text = seededText(size, 2);
  const inputs: Array<[string, Buffer]> = [['random', random], ['text', text]];
  console.log(`chunker-micro: ${sizeMib} MiB per data set, ${PUSH_SIZE / KIB} KiB pushes, best of ${REPEATS}, node ${process.version}`);
  const rows: Row[] = [
    ...(await chunkingRows('fastcdc', inputs)),
    ...(await chunkingRows('rabin', inputs)),
    ...inputs.map(([label, input]): Row => ({
      measure: 'sha256',
      data: label,
      mibPerSecond: bestMibPerSecond(input.length, () => {
        for (let start = 0; start < input.length; start += COMPRESS_BLOCK) createHash('sha256').update(input.subarray(start, start + COMPRESS_BLOCK)).digest();
      }),
    })),
    ...zstdRows(text),
    ...(await averageSizeRows(inputs)),
  ];
  printTable(rows);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
