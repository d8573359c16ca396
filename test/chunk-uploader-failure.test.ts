// The client's chunk pipeline once the upload call has failed (the server said "store is full", or the
// connection went): the file being read ends with that failure, whatever the pipeline was doing when it
// came. A failure that landed while the reader was between two reads left the next chunk waiting for
// room that nothing would free any more; with nothing else left to run, the CLI ended with "internal
// error: the work stopped before it finished" instead of the server's reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkUploader } from '../src/client/chunking/chunk-uploader';
import { ByteBudget } from '../src/client/chunking/byte-budget';
import type { UploadStream } from '../src/client/upload-stream';
import { EntryType, type EntryMeta, type UploadRequest } from '../src/proto/cpsbackup';
import type { EntrySink } from '../src/common/wire/entry-batcher';
import { deterministicBytes } from './support/trees';

const chunking = { chunker: 'fastcdc', minSize: 4096, avgSize: 16384, maxSize: 65536, compressionLevel: 3 };
const MEBIBYTE = 1024 * 1024;

/** A call the server never answers: the pipeline's room (4 MiB of unanswered chunks) is never given back. */
function silentStream(): UploadStream {
  const stream = {
    onAnswer: (_answer: unknown) => undefined,
    onFailure: (_error: Error) => undefined,
    async send(_request: UploadRequest): Promise<void> {},
  };
  return stream as unknown as UploadStream;
}

async function bytesOf(seed: string, size: number): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for await (const piece of deterministicBytes(seed, size)) pieces.push(piece as Buffer);
  return Buffer.concat(pieces);
}

test('a call that fails while the reader reads on ends the file with its error, not a wait for ever', async () => {
  const stream = silentStream();
  const batcher: EntrySink = { add: async () => undefined, flush: async () => undefined };
  const uploader = await ChunkUploader.create(stream, batcher, chunking, 0);
  const failure = new Error('store is full');
  // Fixed bytes, so fixed chunks: the first 4 MiB leave less room than the next chunk needs (checked
  // against the old pipeline, which then waited for ever).
  const [before, after] = await Promise.all([bytesOf('before the failure', 4 * MEBIBYTE), bytesOf('after the failure', MEBIBYTE)]);
  async function* content(): AsyncGenerator<Buffer> {
    yield before;
    // The failure comes while the file is read on, and everything it ends has ended before the next read.
    await new Promise((resolve) => setImmediate(resolve));
    stream.onFailure(failure);
    await new Promise((resolve) => setImmediate(resolve));
    yield after;
  }
  try {
    const meta = { path: Buffer.from('/data/big.bin'), type: EntryType.ENTRY_TYPE_FILE } as EntryMeta;
    await assert.rejects(uploader.sendFile(meta, content()), failure);
  } finally {
    await uploader.close();
  }
});

test('an abandoned byte budget lets every later taker through at once', async () => {
  const budget = new ByteBudget(4);
  await budget.take(4);
  const waiting = budget.take(2);
  budget.abandon();
  await waiting;
  assert.equal(budget.canTake(8), true);
  await budget.take(8);
  await budget.take(1);
});
