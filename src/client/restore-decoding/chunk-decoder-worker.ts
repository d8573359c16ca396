// Worker thread body: decodes stored chunks and checks each against its hash, off the restore's
// main thread, which meanwhile creates, writes and renames files. Requests come in groups (see
// ChunkDecoderPool): payloads back to back in one transferred buffer, results returned the same way.
// Both buffers travel back and forth instead of being allocated per group: on this kind of machine
// the page faults of a fresh buffer held decoding to about 400 MiB/s, against 1,200 into a reused one.
import { parentPort } from 'node:worker_threads';
import { ChunkCodec } from '../../chunkstore/codec';
import { sha256 } from '../../common/sha256';
import { takeReusable } from './reusable-buffer';

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

/** A raw buffer of an earlier reply, every view of it written and dropped: this worker may decode into it again. */
export interface RecycledRaw {
  readonly recycled: ArrayBuffer;
}

export interface DecodedGroup {
  readonly groupId: number;
  /** The raw chunks back to back (rawSizes of the request); a failed chunk's place holds nothing usable. */
  readonly raw: Uint8Array;
  /** The request's payloads buffer, handed back for the next request (its content is spent). */
  readonly payloads: Uint8Array;
  /** Chunks that did not decode or match their hash: their index and why (each file fails alone). */
  readonly failures: readonly { readonly index: number; readonly reason: string }[];
}

/** Decoding only: the level is never used. */
const DECODER_LEVEL = 3;
const HASH_SIZE = 32;
/** Raw buffers kept for reuse; a restore holds only a few groups at once (one read ahead). */
const MAX_FREE_RAW = 8;
const codec = new ChunkCodec(DECODER_LEVEL);
const freeRaw: ArrayBuffer[] = [];

parentPort!.on('message', (message: DecodeGroup | RecycledRaw) => {
  if ('recycled' in message) {
    if (freeRaw.length < MAX_FREE_RAW) freeRaw.push(message.recycled);
    return;
  }
  const group = message;
  const payloads = Buffer.from(group.payloads.buffer, group.payloads.byteOffset, group.payloads.byteLength);
  const hashes = Buffer.from(group.hashes.buffer, group.hashes.byteOffset, group.hashes.byteLength);
  // Not zero-filled: each chunk's bytes are decoded into it, and a chunk that fails is zeroed below.
  const raw = takeReusable(freeRaw, group.rawSizes.reduce((sum, size) => sum + size, 0));
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
    if (!sha256(into).equals(hashes.subarray(index * HASH_SIZE, (index + 1) * HASH_SIZE))) {
      failures.push({ index, reason: 'does not match its hash' });
    }
  }
  const reply: DecodedGroup = { groupId: group.groupId, raw, payloads: group.payloads, failures };
  parentPort!.postMessage(reply, [raw.buffer as ArrayBuffer, group.payloads.buffer as ArrayBuffer]);
});
