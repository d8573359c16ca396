// Decodes and checks a restore's stored chunks on worker threads (see chunk-decoder-worker.ts), so
// the main thread writes one file while the next ones are decoded. One request per message's
// chunks: the caller starts it as soon as the message arrives and awaits it when it writes. Buffers
// go back to be used again (see chunk-decoder-worker.ts): a group's payloads as soon as it is
// decoded, its raw bytes once each of its users has written them.
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import type { EncodedChunk } from '../../proto/cpsbackup';
import { CorruptError } from '../../common/errors';
import type { DecodedGroup, DecodeGroup, RecycledRaw } from './chunk-decoder-worker';
import { takeReusable } from './reusable-buffer';

/** A chunk's raw bytes, or why it cannot be restored. */
export type DecodedChunk = Buffer | CorruptError;

export interface DecodedChunks {
  readonly results: DecodedChunk[];
  /**
   * One per user the group was asked for. Each user calls its own once every write of these bytes has
   * completed and no view of them is used again: when all have, the buffer goes back to the worker
   * (and every view of it here becomes empty). A user that never calls it only costs the reuse.
   */
  readonly releases: readonly (() => void)[];
}

interface Waiting {
  readonly chunks: readonly EncodedChunk[];
  readonly users: number;
  resolve(decoded: DecodedChunks): void;
  reject(error: Error): void;
}

/** Payload buffers kept for reuse: a restore has only a few groups decoding at once. */
const MAX_FREE_PAYLOADS = 8;

export class ChunkDecoderPool {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<number, Waiting>();
  private nextGroupId = 0;
  private nextWorker = 0;
  private failure: Error | undefined;
  private readonly freePayloads: ArrayBuffer[] = [];

  constructor(size: number) {
    for (let index = 0; index < size; index++) {
      const worker = new Worker(join(__dirname, 'chunk-decoder-worker.js'));
      worker.on('message', (reply: DecodedGroup) => this.settle(reply, worker));
      worker.on('error', (error) => this.fail(error));
      worker.on('exit', (code) => { if (code !== 0) this.fail(new Error(`chunk decoder worker exited with code ${code}`)); });
      // Kept referenced (the restore closes the pool when it ends): a restore may await nothing but a
      // worker's answer, and Node ends a process whose only handles are unreferenced.
      this.workers.push(worker);
    }
  }

  /**
   * Each chunk's raw bytes in order, decoded within its declared size and matching its hash; a chunk
   * that does not is a CorruptError naming it, so only the files holding it fail. users: how many
   * callers write these bytes, each with its own release.
   */
  decode(chunks: readonly EncodedChunk[], users = 1): Promise<DecodedChunks> {
    if (this.failure) return Promise.reject(this.failure);
    if (chunks.length === 0) return Promise.resolve({ results: [], releases: Array.from({ length: users }, () => () => undefined) });
    const groupId = this.nextGroupId++;
    const result = new Promise<DecodedChunks>((resolve, reject) => this.waiting.set(groupId, { chunks, users, resolve, reject }));
    // Copied into buffers the worker then owns: the chunks are views into received messages.
    const payloads = takeReusable(this.freePayloads, chunks.reduce((sum, chunk) => sum + chunk.payload.length, 0)); // filled below
    const hashes = new Uint8Array(chunks.length * 32);
    let offset = 0;
    chunks.forEach((chunk, index) => {
      payloads.set(chunk.payload, offset);
      offset += chunk.payload.length;
      hashes.set(chunk.hash.subarray(0, 32), index * 32);
    });
    const group: DecodeGroup = {
      groupId, codecs: chunks.map((chunk) => chunk.codec), payloadSizes: chunks.map((chunk) => chunk.payload.length),
      rawSizes: chunks.map((chunk) => chunk.rawSize), hashes, payloads,
    };
    const worker = this.workers[this.nextWorker];
    this.nextWorker = (this.nextWorker + 1) % this.workers.length;
    worker.postMessage(group, [payloads.buffer as ArrayBuffer, hashes.buffer]);
    return result;
  }

  async close(): Promise<void> {
    // Failed first: a terminated worker exits with code 1, which is no failure to report.
    this.fail(new Error('chunk decoder pool closed'));
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }

  private settle(reply: DecodedGroup, worker: Worker): void {
    if (this.freePayloads.length < MAX_FREE_PAYLOADS) this.freePayloads.push(reply.payloads.buffer as ArrayBuffer);
    const waiting = this.waiting.get(reply.groupId);
    if (waiting === undefined) return;
    this.waiting.delete(reply.groupId);
    const raw = Buffer.from(reply.raw.buffer, reply.raw.byteOffset, reply.raw.byteLength);
    const decoded: DecodedChunk[] = [];
    let offset = 0;
    for (const chunk of waiting.chunks) {
      decoded.push(raw.subarray(offset, offset + chunk.rawSize));
      offset += chunk.rawSize;
    }
    waiting.chunks.forEach((chunk, index) => {
      if (chunk.hash.length !== 32) decoded[index] = new CorruptError(`not restored: the server sent a chunk hash of ${chunk.hash.length} bytes`);
    });
    for (const { index, reason } of reply.failures) {
      decoded[index] = new CorruptError(`not restored, the store's copy is damaged: chunk ${waiting.chunks[index].hash.toString('hex')} ${reason}`);
    }
    let unreleased = waiting.users;
    const releases = Array.from({ length: waiting.users }, () => {
      let isReleased = false;
      return () => {
        if (isReleased) return;
        isReleased = true;
        unreleased -= 1;
        if (unreleased > 0 || this.failure) return;
        const recycled: RecycledRaw = { recycled: reply.raw.buffer as ArrayBuffer };
        worker.postMessage(recycled, [recycled.recycled]);
      };
    });
    waiting.resolve({ results: decoded, releases });
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiting of this.waiting.values()) waiting.reject(error);
    this.waiting.clear();
  }
}
