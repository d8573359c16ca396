// Worker thread body: compresses chunks with zstd and proves each result decodes to the same bytes.
// Runs off the event loop so chunking, hashing and network I/O keep the main thread busy meanwhile.
// Requests come in groups (see EncoderPool): one message per small chunk cost more than compressing it.
import { parentPort, workerData } from 'node:worker_threads';
import { ChunkCodec } from './codec';

export interface EncodeRequest {
  readonly id: number;
  readonly raw: Uint8Array;
}

export interface EncodeReply {
  readonly id: number;
  readonly codec: number;
  readonly payload: Uint8Array;
}

const codec = new ChunkCodec((workerData as { level: number }).level);

parentPort!.on('message', (group: readonly EncodeRequest[]) => {
  const replies: EncodeReply[] = [];
  const transfers: ArrayBuffer[] = [];
  for (const request of group) {
    const raw = Buffer.from(request.raw.buffer, request.raw.byteOffset, request.raw.byteLength);
    const encoded = codec.encode(raw);
    // Copy into a fresh ArrayBuffer we can transfer: zstd's output may share a pool.
    const payload = new Uint8Array(encoded.payload.length);
    payload.set(encoded.payload);
    replies.push({ id: request.id, codec: encoded.codec, payload });
    transfers.push(payload.buffer);
  }
  parentPort!.postMessage(replies, transfers);
});
