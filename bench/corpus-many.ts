// The corpus of scenarios E and F: many small files (a mail spool, a source tree, a cache) and one
// large file (a disk image or a database file), to show memory at scale rather than speed. The small
// files are text of 100 B to 4 KiB, 100 to a folder; the large file alternates 512 KiB of random
// bytes with 512 KiB of low-entropy bytes, so it compresses about 2:1 like many real images.
import { createCipheriv, createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { textContent } from './corpus-text';
import { Random } from './prng';

export interface ManyFilesOptions {
  readonly root: string;
  readonly smallFiles: number;
  readonly largeFileBytes: number;
  readonly seed: number;
}

const filesPerFolder = 100;
const writeConcurrency = 32;
const blockBytes = 1024 * 1024;
export const largeFileName = 'large/image.bin';

async function writeSmallFiles(options: ManyFilesOptions): Promise<void> {
  for (let first = 0; first < options.smallFiles; first += writeConcurrency) {
    const batch: Promise<void>[] = [];
    for (let index = first; index < Math.min(options.smallFiles, first + writeConcurrency); index++) {
      const folder = join(options.root, 'small', String(Math.floor(index / filesPerFolder)).padStart(4, '0'));
      const random = Random.from(options.seed, 'many', index);
      const content = textContent(random, 'log', random.integer(100, 4096));
      if (index % filesPerFolder === 0) await mkdir(folder, { recursive: true });
      batch.push(writeFile(join(folder, `file-${String(index).padStart(6, '0')}.txt`), content));
    }
    await Promise.all(batch);
  }
}

/** AES-256-CTR over zeros: gigabytes per second of seeded, incompressible bytes. */
function* largeFileBlocks(options: ManyFilesOptions): Generator<Buffer> {
  const key = createHash('sha256').update(`bench-many-${options.seed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(blockBytes);
  for (let written = 0; written < options.largeFileBytes; written += blockBytes) {
    const block = cipher.update(zeros.subarray(0, Math.min(blockBytes, options.largeFileBytes - written)));
    // The second half of each block keeps 4 bits of entropy per byte.
    for (let index = block.length >> 1; index < block.length; index++) block[index] &= 0x0f;
    yield block;
  }
}

export async function generateManyFiles(options: ManyFilesOptions): Promise<void> {
  await mkdir(join(options.root, 'large'), { recursive: true });
  await writeSmallFiles(options);
  await pipeline(Readable.from(largeFileBlocks(options)), createWriteStream(join(options.root, largeFileName)));
}
