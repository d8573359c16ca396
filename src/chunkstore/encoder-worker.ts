// Worker thread body: compresses chunks with zstd and proves each result decodes to the same bytes.
// Runs off the event loop so chunking, hashing and network I/O keep the main thread busy meanwhile.
import { parentPort, workerData } from 'node:worker_threads';
import { ChunkCodec } from './codec';

interface EncodeRequest {
  readonly id: number;
  readonly raw: Uint8Array;
}

const codec = new ChunkCodec((workerData as { level: number }).level);

parentPort!.on('message', (request: EncodeRequest) => {
  const raw = Buffer.from(request.raw.buffer, request.raw.byteOffset, request.raw.byteLength);
  const encoded = codec.encode(raw);
  // Copy into a fresh ArrayBuffer we can transfer: zstd's output may share a pool.
  const payload = new Uint8Array(encoded.payload.length);
  payload.set(encoded.payload);
  parentPort!.postMessage({ id: request.id, codec: encoded.codec, payload }, [payload.buffer]);
});
