// Stands in for the uploader and restorer in the dump-source tests: runs every dumper and streams
// each FIFO into a file at the same relative path under restoreTo, as a restore would leave it.
import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { startDumps, type DumpFile } from '../../src/client/sources/dump-run';
import type { RestoredDump } from '../../src/client/sources/loaders';
import type { StorageConfig } from '../../src/client/sources/storage-config';
import { DumpFailedError } from '../../src/common/errors';

export interface DumpToFilesOptions {
  readonly partialSince?: Date;
  /** Receives the run's labels (version_command output). */
  readonly labels?: Record<string, string>;
  /** Called for each dump file once written, e.g. to check how it maps back to its source. */
  readonly onFile?: (file: DumpFile) => void;
}

export async function dumpToFiles(config: StorageConfig, work: string, restoreTo: string, options: DumpToFilesOptions = {}): Promise<RestoredDump[]> {
  const run = await startDumps(config, work, { partialSince: options.partialSince });
  if (options.labels) Object.assign(options.labels, run.labels);
  try {
    const restored = await Promise.all(run.files.map(async (file) => {
      const path = join(restoreTo, relative(work, file.path));
      await mkdir(dirname(path), { recursive: true });
      await pipeline(run.openDump(file), createWriteStream(path));
      options.onFile?.(file);
      return { path, sourceName: file.sourceName };
    }));
    await run.finish();
    return restored;
  } catch (error) {
    await run.abort();
    throw error;
  }
}

/** Starting the dumps fails with a DumpFailedError naming the source, before anything is dumped. */
export async function assertDumpRefused(config: StorageConfig, work: string, source: string, message: RegExp): Promise<void> {
  await assert.rejects(startDumps(config, work), (error: unknown) => {
    assert.ok(error instanceof DumpFailedError, String(error));
    assert.equal(error.source, source);
    assert.match(error.message, message);
    return true;
  });
}
