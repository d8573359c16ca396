// Decodes and checks a restore's stored chunks on worker threads (see chunk-decoder-worker.ts), so
// the main thread writes one file while the next ones are decoded. One request per message's
// chunks: the caller starts it as soon as the message arrives and awaits it when it writes.
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import type { EncodedChunk } from '../../proto/cpsbackup';
import { CorruptError } from '../../common/errors';
import type { DecodedGroup, DecodeGroup } from './chunk-decoder-worker';

/** A chunk's raw bytes, or why it cannot be restored. */
export type DecodedChunk = Buffer | CorruptError;

interface Waiting {
  readonly chunks: readonly EncodedChunk[];
  resolve(decoded: DecodedChunk[]): void;
  reject(error: Error): void;
}

export class ChunkDecoderPool {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<number, Waiting>();
  private nextGroupId = 0;
  private nextWorker = 0;
  private failure: Error | undefined;

  constructor(size: number) {
    for (let index = 0; index < size; index++) {
      const worker = new Worker(join(__dirname, 'chunk-decoder-worker.js'));
      worker.on('message', (reply: DecodedGroup) => this.settle(reply));
      worker.on('error', (error) => this.fail(error));
      worker.on('exit', (code) => { if (code !== 0) this.fail(new Error(`chunk decoder worker exited with code ${code}`)); });
      // Kept referenced (the restore closes the pool when it ends): a restore may await nothing but a
      // worker's answer, and Node ends a process whose only handles are unreferenced.
      this.workers.push(worker);
    }
  }

  /**
   * Each chunk's raw bytes in order, decoded within its declared size and matching its hash; a chunk
   * that does not is a CorruptError naming it, so only the files holding it fail.
   */
  decode(chunks: readonly EncodedChunk[]): Promise<DecodedChunk[]> {
    if (this.failure) return Promise.reject(this.failure);
    if (chunks.length === 0) return Promise.resolve([]);
    const groupId = this.nextGroupId++;
    const result = new Promise<DecodedChunk[]>((resolve, reject) => this.waiting.set(groupId, { chunks, resolve, reject }));
    // Copied into buffers the worker then owns: the chunks are views into received messages.
    const payloads = Buffer.allocUnsafeSlow(chunks.reduce((sum, chunk) => sum + chunk.payload.length, 0)); // filled below; transferable
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
    worker.postMessage(group, [payloads.buffer, hashes.buffer]);
    return result;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.terminate()));
    this.fail(new Error('chunk decoder pool closed'));
  }

  private settle(reply: DecodedGroup): void {
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
    waiting.resolve(decoded);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiting of this.waiting.values()) waiting.reject(error);
    this.waiting.clear();
  }
}
