// A small pool of worker threads that compress and verify chunks (see encoder-worker.ts).
// Callers await one promise per chunk; results come back in any order, matched by id. Chunks
// asked for in the same turn of the event loop travel to a worker together, up to GROUP_BYTES.
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import type { EncodedChunk } from './codec';
import type { Codec } from './pack/pack-format';
import type { EncodedGroup, EncodeGroup } from './encoder-worker';

/** A group is sent at once when it reaches this many raw bytes, else at the end of the current turn. */
const GROUP_BYTES = 512 * 1024;

interface Pending {
  resolve(chunk: EncodedChunk): void;
  reject(error: Error): void;
}

export class EncoderPool {
  private readonly workers: Worker[] = [];
  /** Groups sent to each worker and not answered yet: a worker is referenced while it owes one (and from close() until it stops). */
  private readonly groupsInFlight: number[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private nextWorker = 0;
  private failure: Error | undefined;
  private group: { id: number; raw: Buffer }[] = [];
  private groupBytes = 0;
  private isFlushScheduled = false;
  /** Set by close(): from then on each worker stays referenced until its exit comes. */
  private isClosing = false;

  /**
   * isRoundTripChecked: see ChunkCodec. The workers start with the first chunk: a server whose
   * clients all cut their own chunks never encodes one, and each idle worker (a V8 isolate) held
   * about 10 MiB of its memory.
   */
  constructor(private readonly workerCount: number, private readonly compressionLevel: number, private readonly isRoundTripChecked = true) {}

  /** Threads running now: none until the first chunk. */
  get startedWorkers(): number {
    return this.workers.length;
  }

  private startWorkers(): void {
    for (let index = 0; index < this.workerCount; index++) {
      const worker = new Worker(join(__dirname, 'encoder-worker.js'), { workerData: { level: this.compressionLevel, isRoundTripChecked: this.isRoundTripChecked } });
      const workerIndex = index;
      worker.on('message', (reply: EncodedGroup) => {
        // Not while closing: Node delivers a stopping worker's last replies from inside its exit
        // handling, and an unref there undid the reference close() holds until the exit (in a full
        // suite a Ctrl-C'd backup then ended as an internal error, its workers' exits still owed).
        if (--this.groupsInFlight[workerIndex] === 0 && !this.isClosing) worker.unref();
        const bytes = Buffer.from(reply.bytes.buffer, reply.bytes.byteOffset, reply.bytes.byteLength);
        let offset = 0;
        reply.ids.forEach((id, index) => {
          const size = reply.sizes[index];
          const waiting = this.pending.get(id);
          this.pending.delete(id);
          waiting?.resolve({ codec: reply.codecs[index] as Codec, payload: bytes.subarray(offset, offset + size) });
          offset += size;
        });
      });
      worker.on('error', (error) => this.fail(error));
      worker.on('exit', (code) => { if (code !== 0) this.fail(new Error(`encoder worker exited with code ${code}`)); });
      // Unreferenced while idle, so an idle pool keeps no process alive; referenced while it owes an
      // answer: a caller may await nothing but that answer (a backup whose call the server has just
      // failed, waiting on the chunks it was compressing), and Node ends a process whose only
      // handles are unreferenced, which the CLI reports as an internal error.
      worker.unref();
      this.workers.push(worker);
      this.groupsInFlight.push(0);
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
    if (this.failure) {
      // Closed (or failed) since these were asked for: their promises are rejected already; no worker starts now.
      this.group = [];
      this.groupBytes = 0;
      return;
    }
    if (this.workers.length === 0) {
      try {
        this.startWorkers();
      } catch (error) {
        // No thread to be had (a process or task limit): this backup fails with the reason; nothing hangs.
        this.fail(error as Error);
        for (const worker of this.workers) void worker.terminate();
        this.group = [];
        this.groupBytes = 0;
        return;
      }
    }
    const workerIndex = this.nextWorker;
    const worker = this.workers[workerIndex];
    this.nextWorker = (this.nextWorker + 1) % this.workers.length;
    if (this.groupsInFlight[workerIndex]++ === 0) worker.ref();
    // Copied into one buffer the worker then owns: the callers' chunks may be views into network frames.
    // Not zero-filled (every byte is written below) and not from the shared pool, so it can be transferred.
    const bytes = Buffer.allocUnsafeSlow(this.groupBytes);
    let offset = 0;
    for (const { raw } of this.group) {
      bytes.set(raw, offset);
      offset += raw.length;
    }
    const message: EncodeGroup = { ids: this.group.map(({ id }) => id), sizes: this.group.map(({ raw }) => raw.length), bytes };
    worker.postMessage(message, [bytes.buffer]);
    this.group = [];
    this.groupBytes = 0;
  }

  async close(): Promise<void> {
    // Failed first: a terminated worker exits with code 1, which is no failure to report.
    this.fail(new Error('encoder pool closed'));
    this.isClosing = true;
    // Referenced while they stop: a caller awaiting only their exit must keep the process alive until it comes.
    for (const worker of this.workers) worker.ref();
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
  }
}
