// A small pool of worker threads that compress and verify chunks (see encoder-worker.ts).
// Callers await one promise per chunk; results come back in any order, matched by id. Chunks
// asked for in the same turn of the event loop travel to a worker together, up to GROUP_BYTES.
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import type { EncodedChunk } from './codec';
import type { Codec } from './pack/pack-format';
import type { EncodeReply, EncodeRequest } from './encoder-worker';

/** A group is sent at once when it reaches this many raw bytes, else at the end of the current turn. */
const GROUP_BYTES = 512 * 1024;

interface Pending {
  resolve(chunk: EncodedChunk): void;
  reject(error: Error): void;
}

export class EncoderPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private nextWorker = 0;
  private failure: Error | undefined;
  private group: EncodeRequest[] = [];
  private groupBytes = 0;
  private isFlushScheduled = false;

  constructor(size: number, compressionLevel: number) {
    for (let index = 0; index < size; index++) {
      const worker = new Worker(join(__dirname, 'encoder-worker.js'), { workerData: { level: compressionLevel } });
      worker.on('message', (replies: readonly EncodeReply[]) => {
        for (const reply of replies) {
          const waiting = this.pending.get(reply.id);
          this.pending.delete(reply.id);
          waiting?.resolve({ codec: reply.codec as Codec, payload: Buffer.from(reply.payload.buffer, reply.payload.byteOffset, reply.payload.byteLength) });
        }
      });
      worker.on('error', (error) => this.fail(error));
      worker.on('exit', (code) => { if (code !== 0) this.fail(new Error(`encoder worker exited with code ${code}`)); });
      worker.unref();
      this.workers.push(worker);
    }
  }

  encode(raw: Buffer): Promise<EncodedChunk> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const result = new Promise<EncodedChunk>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.group.push({ id, raw });
    this.groupBytes += raw.length;
    if (this.groupBytes >= GROUP_BYTES) this.sendGroup();
    else if (!this.isFlushScheduled) {
      this.isFlushScheduled = true;
      setImmediate(() => {
        this.isFlushScheduled = false;
        this.sendGroup();
      });
    }
    return result;
  }

  private sendGroup(): void {
    if (this.group.length === 0) return;
    const worker = this.workers[this.nextWorker];
    this.nextWorker = (this.nextWorker + 1) % this.workers.length;
    // Structured clone copies each raw: the caller's buffer may be a view into a larger network frame.
    worker.postMessage(this.group);
    this.group = [];
    this.groupBytes = 0;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.terminate()));
    this.fail(new Error('encoder pool closed'));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
  }
}
