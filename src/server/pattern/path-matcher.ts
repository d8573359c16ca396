// A client's pattern (a restore's -r, a --find glob) matched against pages of paths in a worker thread
// of its own, so that a costly pattern holds one worker, not the event loop every other client needs.
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { compileLinearRegex } from '../../common/linear-regex';
import { BackupError } from '../../common/errors';
import type { PathMatchData, PathMatchReply, PathMatchRequest } from './path-match-worker';

interface Waiting {
  resolve(verdicts: Uint8Array): void;
  reject(error: Error): void;
}

export class PathMatcher {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 0;
  private isClosed = false;

  /** Compiles the pattern here first, so that a pattern the engine refuses fails the call with its reason at once. */
  constructor(private readonly source: string, private readonly what: string) {
    compileLinearRegex(source, what);
  }

  /** Which of the paths match, index for index. The worker starts with the first page. */
  async match(paths: readonly string[]): Promise<Uint8Array> {
    if (this.isClosed) throw this.endedError();
    if (paths.length === 0) return new Uint8Array(0);
    const worker = this.worker ?? this.startWorker();
    const id = this.nextId++;
    const verdicts = new Promise<Uint8Array>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    worker.postMessage({ id, paths } satisfies PathMatchRequest);
    return verdicts;
  }

  /** Stops the worker at once, in the middle of a path if it must: a cancelled call leaves no work behind. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.failWaiting(this.endedError());
    void this.worker?.terminate();
  }

  private startWorker(): Worker {
    const worker = new Worker(join(__dirname, 'path-match-worker.js'), { workerData: { source: this.source, what: this.what } satisfies PathMatchData });
    worker.on('message', (reply: PathMatchReply) => {
      const waiting = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      waiting?.resolve(reply.verdicts);
    });
    worker.on('error', (error) => this.failWaiting(error));
    worker.on('exit', (code) => {
      // A later match() must not post to the dead worker and wait for ever: it starts a new one.
      if (this.worker === worker) this.worker = undefined;
      if (!this.isClosed) this.failWaiting(new Error(`the worker matching ${this.what} exited with code ${code}`));
    });
    this.worker = worker;
    return worker;
  }

  /** Typed: a call that ended or was cancelled is a warning in the server log, not an internal error. */
  private endedError(): BackupError {
    return new BackupError('INTERRUPTED', `${this.what} is no longer matched: the call ended or was cancelled`);
  }

  private failWaiting(error: Error): void {
    for (const waiting of this.waiting.values()) waiting.reject(error);
    this.waiting.clear();
  }
}
