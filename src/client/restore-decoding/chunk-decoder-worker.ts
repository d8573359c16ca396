// Worker thread body: decodes stored chunks and checks each against its hash, off the restore's
// main thread, which meanwhile creates, writes and renames files. Requests come in groups (see
// ChunkDecoderPool): payloads back to back in one transferred buffer, results returned the same way.
import { createHash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { ChunkCodec } from '../../chunkstore/codec';

export interface DecodeGroup {
  readonly groupId: number;
  readonly codecs: readonly number[];
  /** Encoded size of each payload, in the order they lie in `payloads`. */
  readonly payloadSizes: readonly number[];
  readonly rawSizes: readonly number[];
  /** 32-byte hashes back to back. */
  readonly hashes: Uint8Array;
  readonly payloads: Uint8Array;
}

export interface DecodedGroup {
  readonly groupId: number;
  /** The raw chunks back to back (rawSizes of the request); a failed chunk's place holds nothing usable. */
  readonly raw: Uint8Array;
  /** Chunks that did not decode or match their hash: their index and why (each file fails alone). */
  readonly failures: readonly { readonly index: number; readonly reason: string }[];
}

/** Decoding only: the level is never used. */
const DECODER_LEVEL = 3;
const HASH_SIZE = 32;
const codec = new ChunkCodec(DECODER_LEVEL);

parentPort!.on('message', (group: DecodeGroup) => {
  const payloads = Buffer.from(group.payloads.buffer, group.payloads.byteOffset, group.payloads.byteLength);
  const hashes = Buffer.from(group.hashes.buffer, group.hashes.byteOffset, group.hashes.byteLength);
  // Not zero-filled: each chunk's bytes are decoded into it, and a chunk that fails is zeroed below.
  const raw = Buffer.allocUnsafeSlow(group.rawSizes.reduce((sum, size) => sum + size, 0));
  const failures: { index: number; reason: string }[] = [];
  let payloadOffset = 0;
  let rawOffset = 0;
  for (let index = 0; index < group.codecs.length; index++) {
    const payload = payloads.subarray(payloadOffset, payloadOffset + group.payloadSizes[index]);
    const into = raw.subarray(rawOffset, rawOffset + group.rawSizes[index]);
    payloadOffset += payload.length;
    rawOffset += into.length;
    try {
      codec.decode(group.codecs[index] as Parameters<ChunkCodec['decode']>[0], payload, into.length, into);
    } catch (error) {
      failures.push({ index, reason: `does not decode (${(error as Error).message})` });
      into.fill(0);
      continue;
    }
    if (!createHash('sha256').update(into).digest().equals(hashes.subarray(index * HASH_SIZE, (index + 1) * HASH_SIZE))) {
      failures.push({ index, reason: 'does not match its hash' });
    }
  }
  const reply: DecodedGroup = { groupId: group.groupId, raw, failures };
  parentPort!.postMessage(reply, [raw.buffer]);
});
