// Worker thread body: compresses chunks with zstd and proves each result decodes to the same bytes.
// Runs off the event loop so chunking, hashing and network I/O keep the main thread busy meanwhile.
// Requests come in groups (see EncoderPool), raw chunks packed back to back in one transferred
// buffer and results returned the same way: one message and one allocation per group, where one
// per chunk cost more than compressing small chunks and left memory to a lazy garbage collector.
import { parentPort, workerData } from 'node:worker_threads';
import { ChunkCodec } from './codec';

export interface EncodeGroup {
  readonly ids: readonly number[];
  /** Raw size of each chunk, in the order they lie in `bytes`. */
  readonly sizes: readonly number[];
  readonly bytes: Uint8Array;
}

export interface EncodedGroup {
  readonly ids: readonly number[];
  readonly codecs: readonly number[];
  readonly sizes: readonly number[];
  readonly bytes: Uint8Array;
}

const { level, isRoundTripChecked } = workerData as { level: number; isRoundTripChecked: boolean };
const codec = new ChunkCodec(level, isRoundTripChecked);

parentPort!.on('message', (group: EncodeGroup) => {
  const input = Buffer.from(group.bytes.buffer, group.bytes.byteOffset, group.bytes.byteLength);
  const payloads: Buffer[] = [];
  const codecs: number[] = [];
  let offset = 0;
  for (const size of group.sizes) {
    const encoded = codec.encode(input.subarray(offset, offset + size));
    payloads.push(encoded.payload);
    codecs.push(encoded.codec);
    offset += size;
  }
  const bytes = Buffer.allocUnsafeSlow(payloads.reduce((sum, payload) => sum + payload.length, 0)); // filled below; transferable
  offset = 0;
  for (const payload of payloads) {
    bytes.set(payload, offset);
    offset += payload.length;
  }
  const reply: EncodedGroup = { ids: group.ids, codecs, sizes: payloads.map((payload) => payload.length), bytes };
  parentPort!.postMessage(reply, [bytes.buffer]);
});
