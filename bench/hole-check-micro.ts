// Micro-benchmark of the hole check a backup makes on every regular file whose blocks cover its size
// (dataExtents: fstat and SEEK_DATA/SEEK_HOLE; or one SEEK_HOLE, as files of 64 KiB or less get), against the open, fstat and close it makes anyway and
// against that file's whole read. Alternating rounds over the same cached files; medians and spread.
// Usage: node dist/bench/hole-check-micro.js [files] [rounds] [size]
// (default 20000 files, 7 rounds, sizes from 100 B to 16 KiB; a size given makes every file that size)
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { statFd } from '../src/client/posix/at';
import { dataExtents, hasHoleBefore } from '../src/client/posix/data-extents';
import { FileContent } from '../src/client/file-content';

const fileCount = Number(process.argv[2] ?? 20_000);
const rounds = Number(process.argv[3] ?? 7);
const fixedSize = process.argv[4] === undefined ? undefined : Number(process.argv[4]);

/** Microseconds per file of one pass over the files. */
function pass(paths: readonly string[], perFile: (fd: number) => void): number {
  const started = process.hrtime.bigint();
  for (const path of paths) {
    const fd = openSync(path, 'r');
    try {
      perFile(fd);
    } finally {
      closeSync(fd);
    }
  }
  return Number(process.hrtime.bigint() - started) / 1000 / paths.length;
}

const ways: Record<string, (fd: number) => void> = {
  'open, fstat, close': (fd) => { statFd(fd); },
  '+ dataExtents': (fd) => { statFd(fd); dataExtents(fd); },
  '+ one SEEK_HOLE': (fd) => { hasHoleBefore(fd, statFd(fd).size); },
  'FileContent, whole read': (fd) => { new FileContent(fd, statFd(fd)).readWhole(); },
};

const folder = mkdtempSync(join(tmpdir(), 'cpsbackup-hole-check-'));
try {
  // Dense small files of 100 B to 16 KiB, as a source tree or a mail folder has them.
  const paths = Array.from({ length: fileCount }, (_, index) => join(folder, `file-${index}`));
  paths.forEach((path, index) => writeFileSync(path, Buffer.alloc(fixedSize ?? 100 + ((index * 2654435761) % 16_284), index & 0xff)));
  const times = new Map<string, number[]>(Object.keys(ways).map((name) => [name, []]));
  for (const perFile of Object.values(ways)) pass(paths, perFile); // warm the cache and the code
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? Object.keys(ways) : Object.keys(ways).reverse();
    for (const name of order) times.get(name)!.push(pass(paths, ways[name]));
  }
  console.log(`${fileCount} files of ${fixedSize ?? '100-16384'} B, ${rounds} alternating rounds: µs per file, median (min-max)`);
  for (const [name, values] of times) {
    const sorted = [...values].sort((a, b) => a - b);
    console.log(`${name.padEnd(26)} ${sorted[sorted.length >> 1].toFixed(2)} (${sorted[0].toFixed(2)}-${sorted[sorted.length - 1].toFixed(2)})`);
  }
} finally {
  rmSync(folder, { recursive: true, force: true });
}
