// Builds the deterministic benchmark corpus (binaries, small text files, a JSON-lines dump) and
// mutates it in place into generation 2, so every tool backs up the same path twice.
import { copyFile, mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeDump, averageRecordBytes, type DumpChanges } from './corpus-dump';
import { editText, textFile, textContent } from './corpus-text';
import { Random } from './prng';
import { walkTree } from './tree';

export interface CorpusOptions {
  readonly root: string;
  readonly sizeBytes: number;
  readonly seed: number;
  /** Where real-looking binaries are copied from; the same system gives the same bytes. */
  readonly binarySource?: string;
}

export interface CorpusSummary {
  readonly binaryFiles: number;
  readonly binaryBytes: number;
  readonly textFiles: number;
  readonly textBytes: number;
  readonly dumpRecords: number;
}

export interface MutationSummary {
  readonly filesEdited: number;
  readonly filesAdded: number;
  readonly filesDeleted: number;
  readonly dump: DumpChanges;
}

/** Shares of the size budget; the dump takes what is left. */
export const binaryShare = 0.5;
export const textShare = 0.25;
export const dumpPath = 'dump/database.jsonl';
const defaultBinarySource = '/usr/lib/x86_64-linux-gnu';
const writeConcurrency = 16;

function dumpRecordCount(options: CorpusOptions): number {
  const dumpBytes = options.sizeBytes * (1 - binaryShare - textShare);
  return Math.max(1, Math.floor(dumpBytes / averageRecordBytes));
}

/** Copies regular files in sorted order, skipping any that would overflow the budget. */
async function copyBinaries(options: CorpusOptions): Promise<{ files: number; bytes: number }> {
  const budget = Math.floor(options.sizeBytes * binaryShare);
  const source = options.binarySource ?? defaultBinarySource;
  // A per-file cap keeps a few huge libraries from filling the share alone.
  const largest = Math.max(256 * 1024, Math.floor(budget / 16));
  // Mesa's drivers are hard links to one file; copying each would hand every tool a free 13× dedup.
  const seenInodes = new Set<string>();
  let files = 0;
  let bytes = 0;
  for await (const entry of walkTree(source)) {
    if (budget - bytes < 4096) break;
    if (!entry.stats.isFile() || entry.stats.size > Math.min(largest, budget - bytes)) continue;
    const inode = `${entry.stats.dev}:${entry.stats.ino}`;
    if (seenInodes.has(inode)) continue;
    seenInodes.add(inode);
    const target = join(options.root, 'lib', entry.relativePath);
    await mkdir(dirname(target), { recursive: true });
    await copyFile(entry.absolutePath, target);
    files++;
    bytes += entry.stats.size;
  }
  return { files, bytes };
}

async function writeTextFiles(options: CorpusOptions): Promise<{ files: number; bytes: number }> {
  const budget = Math.floor(options.sizeBytes * textShare);
  let files = 0;
  let bytes = 0;
  while (bytes < budget) {
    const batch: Promise<void>[] = [];
    for (let slot = 0; slot < writeConcurrency && bytes < budget; slot++) {
      const file = textFile(options.seed, files);
      const target = join(options.root, file.relativePath);
      batch.push(mkdir(dirname(target), { recursive: true }).then(() => writeFile(target, file.content)));
      files++;
      bytes += Buffer.byteLength(file.content);
    }
    await Promise.all(batch);
  }
  return { files, bytes };
}

/** Generation 1 into an empty or absent root. */
export async function generateCorpus(options: CorpusOptions): Promise<CorpusSummary> {
  await mkdir(join(options.root, dirname(dumpPath)), { recursive: true });
  const binaries = await copyBinaries(options);
  const texts = await writeTextFiles(options);
  const dump = await writeDump(join(options.root, dumpPath), options.seed, dumpRecordCount(options), 1);
  return { binaryFiles: binaries.files, binaryBytes: binaries.bytes, textFiles: texts.files, textBytes: texts.bytes, dumpRecords: dump.records };
}

async function filesUnder(root: string, folder: string, minimumSize = 0): Promise<string[]> {
  const paths: string[] = [];
  for await (const entry of walkTree(join(root, folder))) {
    if (entry.stats.isFile() && entry.stats.size >= minimumSize) paths.push(entry.absolutePath);
  }
  return paths;
}

/** Distinct indexes into a list, chosen by the seeded generator. */
function chooseIndexes(random: Random, length: number, count: number): number[] {
  const chosen = new Set<number>();
  while (chosen.size < Math.min(count, length)) chosen.add(random.integer(0, length - 1));
  return [...chosen].sort((left, right) => left - right);
}

/**
 * Turns generation 1 into generation 2 in place: text files edited, added and deleted, a few
 * binaries patched, and the dump rewritten with ~1% of its records changed.
 */
export async function mutateCorpus(options: CorpusOptions): Promise<MutationSummary> {
  const random = Random.from(options.seed, 'generation-2');
  const texts = await filesUnder(options.root, 'text');
  const picked = chooseIndexes(random, texts.length, 28);
  const edited = picked.slice(0, 24);
  const deleted = picked.slice(24);
  for (const index of edited) {
    // Generated text files are at most 64 KiB, so reading one whole is bounded.
    const content = await readFile(texts[index], 'utf8');
    await writeFile(texts[index], editText(options.seed, index, content));
  }
  for (const index of deleted) await rm(texts[index]);

  const added = 12;
  await mkdir(join(options.root, 'text', 'generation-2'), { recursive: true });
  for (let index = 0; index < added; index++) {
    const fileRandom = Random.from(options.seed, 'added', index);
    const content = textContent(fileRandom, 'log', fileRandom.integer(500, 20000));
    await writeFile(join(options.root, 'text', 'generation-2', `added-${String(index).padStart(2, '0')}.log`), content);
  }

  const binaries = await filesUnder(options.root, 'lib', 65536);
  const patched = chooseIndexes(random, binaries.length, 6);
  for (const index of patched) {
    const handle = await open(binaries[index], 'r+');
    try {
      const { size } = await handle.stat();
      const patch = random.bytes(4096);
      await handle.write(patch, 0, patch.length, random.integer(0, size - patch.length));
    } finally {
      await handle.close();
    }
  }

  const dump = await writeDump(join(options.root, dumpPath), options.seed, dumpRecordCount(options), 2);
  return { filesEdited: edited.length + patched.length, filesAdded: added, filesDeleted: deleted.length, dump };
}
