// A small pool of worker threads that compress and verify chunks (see encoder-worker.ts).
// Callers await one promise per chunk; results come back in any order, matched by id.
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import type { EncodedChunk } from './codec';
import type { Codec } from './pack/pack-format';

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

  constructor(size: number, compressionLevel: number) {
    for (let index = 0; index < size; index++) {
      const worker = new Worker(join(__dirname, 'encoder-worker.js'), { workerData: { level: compressionLevel } });
      worker.on('message', (message: { id: number; codec: Codec; payload: Uint8Array }) => {
        const waiting = this.pending.get(message.id);
        this.pending.delete(message.id);
        waiting?.resolve({ codec: message.codec, payload: Buffer.from(message.payload.buffer, message.payload.byteOffset, message.payload.byteLength) });
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
    const worker = this.workers[this.nextWorker];
    this.nextWorker = (this.nextWorker + 1) % this.workers.length;
    return new Promise<EncodedChunk>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Structured clone copies raw: the caller's buffer may be a view into a larger network frame.
      worker.postMessage({ id, raw });
    });
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
