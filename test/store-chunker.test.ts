// A store keeps the chunker it was made with: reopened with the built-in defaults (nothing in
// server.conf) it goes on with its own, so changing a default never splits dedup; a server.conf
// that names another chunker is refused with a ConfigError naming the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChunkStore } from '../src/chunkstore/store';
import type { ChunkerParams } from '../src/chunkstore/chunker/chunker';
import { ConfigError } from '../src/common/errors';

const OLD: ChunkerParams = { name: 'fastcdc', minSize: 262144, avgSize: 1048576, maxSize: 4194304 };
const NEW: ChunkerParams = { name: 'fastcdc', minSize: 65536, avgSize: 262144, maxSize: 1048576 };

test('an existing store keeps its chunker unless server.conf names another, which is refused', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'cpsbackup-chunker-'));
  try {
    const created = await ChunkStore.open(directory, { chunker: OLD, compressionLevel: 3, encoderThreads: 0 });
    assert.deepEqual(created.chunkerFactory.params, OLD);
    await created.close();

    const withDefaults = await ChunkStore.open(directory, { chunker: NEW, isChunkerChosen: false, compressionLevel: 3, encoderThreads: 0 });
    assert.deepEqual(withDefaults.chunkerFactory.params, OLD, 'defaults follow the store');
    await withDefaults.close();

    await assert.rejects(
      ChunkStore.open(directory, { chunker: NEW, isChunkerChosen: true, compressionLevel: 3, encoderThreads: 0, configFile: '/etc/backup/server.conf' }),
      (error: unknown) => error instanceof ConfigError && /server\.conf/.test(error.message) && /created with chunker/.test(error.message));
    const same = await ChunkStore.open(directory, { chunker: OLD, isChunkerChosen: true, compressionLevel: 3, encoderThreads: 0 });
    await same.close();
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});
