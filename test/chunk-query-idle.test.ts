// When the client asks the server about the chunks it has cut: a query waiting for more chunks goes
// by itself once none has joined it for a while, so a dump that trickles in is not held back until
// it ends; the chunks the answer names follow, and the file's entry after them. The real
// ChunkUploader runs against a stream that records what it is given and answers each query.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ChunkUploader } from '../src/client/chunking/chunk-uploader';
import type { UploadStream } from '../src/client/upload-stream';
import { EntryType, type BatchedEntry, type EntryMeta, type UploadRequest } from '../src/proto/cpsbackup';
import type { EntrySink } from '../src/common/wire/entry-batcher';

const chunking = { chunker: 'fastcdc', minSize: 4096, avgSize: 16384, maxSize: 65536, compressionLevel: 3 };

/** Records every message; answers each query "send them all" on the next turn, as a server would. */
function recordingStream(): { stream: UploadStream; sent: UploadRequest[]; firstQuery: Promise<void> } {
  const sent: UploadRequest[] = [];
  let queried: () => void = () => undefined;
  const firstQuery = new Promise<void>((resolve) => { queried = resolve; });
  const stream = {
    onAnswer: (_answer: unknown) => undefined,
    onFailure: (_error: Error) => undefined,
    async send(request: UploadRequest): Promise<void> {
      sent.push(request);
      const message = request.message;
      if (message?.$case !== 'query') return;
      queried();
      const count = message.value.hashes.length / 32;
      setImmediate(() => stream.onAnswer({ queryId: message.value.queryId, missing: Buffer.alloc(Math.ceil(count / 8), 0xff) }));
    },
  };
  return { stream: stream as unknown as UploadStream, sent, firstQuery };
}

function fileMeta(path: string): EntryMeta {
  return { path: Buffer.from(path), type: EntryType.ENTRY_TYPE_FILE } as EntryMeta;
}

test('a query goes once no chunk has joined it for a while, before its file ends; chunks, then the entry, follow', async () => {
  const { stream, sent, firstQuery } = recordingStream();
  const entries: BatchedEntry[] = [];
  const batcher: EntrySink = { add: async (entry) => { entries.push(entry); }, flush: async () => undefined };
  const uploader = await ChunkUploader.create(stream, batcher, chunking, 0);
  const first = randomBytes(4 * chunking.maxSize);
  const rest = randomBytes(chunking.maxSize);
  let queriesBeforeRest = -1;
  async function* trickle(): AsyncGenerator<Buffer> {
    yield first;
    // Far fewer chunks than a query holds are waiting now, and no more come: only the idle rule sends them.
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<void>((resolve) => { timer = setTimeout(resolve, 20_000); });
    await Promise.race([firstQuery, gaveUp]);
    clearTimeout(timer);
    queriesBeforeRest = sent.filter((request) => request.message?.$case === 'query').length;
    yield rest;
  }
  try {
    const size = await uploader.sendFile(fileMeta('/dump/trickle.bin'), trickle());
    await uploader.flush();
    assert.equal(size, first.length + rest.length);
    assert.equal(queriesBeforeRest, 1, 'the waiting query went by itself, once, while the file was still open');
    assert.equal(sent[0].message?.$case, 'query');
    const sentBytes = sent.flatMap((request) => (request.message?.$case === 'chunks' ? request.message.value.chunks : []))
      .reduce((sum, chunk) => sum + chunk.rawSize, 0);
    assert.equal(sentBytes, size, 'every byte went as a chunk');
    assert.equal(entries.length, 1, 'the entry left after its chunks');
    assert.equal(entries[0].chunkHashes.length / 32, sent.filter((request) => request.message?.$case === 'query')
      .reduce((sum, request) => sum + (request.message?.$case === 'query' ? request.message.value.hashes.length / 32 : 0), 0));
  } finally {
    await uploader.close();
  }
});
