// The client's side of the Upload call: sends with backpressure, and surfaces the server's
// error (or its commit summary) no matter whether the client is writing or waiting at that moment.
import { once } from 'node:events';
import type * as grpc from '@grpc/grpc-js';
import type { BackupSummary, BeginAck, ChunkAnswer, UploadRequest, UploadResponse } from '../proto/cpsbackup';
import { ProtocolError } from '../common/errors';
import { RateLimiter } from './chunking/rate-limiter';
import { MAX_UNSENT_CONTENT } from '../common/wire/fast-service';
import { UnsentContent } from '../common/wire/unsent-content';

/** Bytes of file content a message carries (what ratelimit and MAX_UNSENT_CONTENT count). */
function uploadContentBytes(request: UploadRequest): number {
  const message = request.message;
  switch (message?.$case) {
    case 'data': return message.value.chunk.length;
    case 'chunks': return message.value.chunks.reduce((sum, chunk) => sum + chunk.payload.length, 0);
    case 'batch': return message.value.entries.reduce((sum, entry) => sum + entry.content.length, 0);
    default: return 0;
  }
}

export class UploadStream {
  /** Rejects once the call fails (the server's error, or the connection's). */
  readonly failed: Promise<never>;
  /** The same failure, once it happened: checked synchronously (a race against `failed` per send would keep every send's result alive). */
  private failure: Error | undefined;
  /** Called once when the call fails. */
  onFailure: (error: Error) => void = () => undefined;
  readonly committed: Promise<BackupSummary>;
  /** The server's answer to Begin: how to cut chunks, when it takes them from the client. */
  readonly begun: Promise<BeginAck>;
  /** Where ChunkAnswer messages go (set by the chunk uploader). */
  onAnswer: (answer: ChunkAnswer) => void = () => undefined;

  private readonly limiter: RateLimiter | undefined;
  /** Content written and not yet called back; several sends may wait on it (a query is sent while chunks wait). */
  private readonly unsent = new UnsentContent();
  /**
   * Set once the server has ended the call: the error of the confirmation, were it still awaited, and of
   * a send still waiting on unsent content (after a confirmed commit nothing sends).
   */
  private endedError: ProtocolError | undefined;

  /** rateLimitBytesPerSecond: node.conf's ratelimit, applied to the messages that carry content. */
  constructor(private readonly call: grpc.ClientDuplexStream<UploadRequest, UploadResponse>, translate: (error: unknown) => Error,
    rateLimitBytesPerSecond?: number) {
    this.limiter = rateLimitBytesPerSecond === undefined ? undefined : new RateLimiter(rateLimitBytesPerSecond);
    let rejectFailed: (error: Error) => void = () => undefined;
    this.failed = new Promise<never>((_, reject) => { rejectFailed = reject; });
    this.failed.catch(() => undefined);
    let resolveBegun: (ack: BeginAck) => void = () => undefined;
    this.begun = Promise.race([new Promise<BeginAck>((resolve) => { resolveBegun = resolve; }), this.failed]);
    this.begun.catch(() => undefined);
    this.committed = new Promise<BackupSummary>((resolve, reject) => {
      call.on('data', (response: UploadResponse) => {
        const message = response.message;
        if (message?.$case === 'committed') resolve(message.value);
        else if (message?.$case === 'beginAck') resolveBegun(message.value);
        else if (message?.$case === 'answer') this.onAnswer(message.value);
      });
      call.on('error', (error) => {
        const translated = translate(error);
        this.failure ??= translated;
        rejectFailed(translated);
        reject(translated);
        this.onFailure(translated);
        this.unsent.wakeAll();
      });
      call.on('end', () => {
        this.endedError = new ProtocolError('the server ended the backup without confirming it');
        this.unsent.wakeAll();
        reject(this.endedError);
      });
    });
    this.committed.catch(() => undefined);
  }

  async send(request: UploadRequest): Promise<void> {
    const bytes = uploadContentBytes(request);
    if (this.limiter) await this.limiter.take(bytes);
    if (this.failure) throw this.failure;
    const isAccepted = this.call.write(request, this.unsent.written(bytes));
    // once() rejects on the call's 'error' event too, so a call that fails while we wait ends the wait.
    if (!isAccepted) await once(this.call, 'drain').catch(() => { throw this.failure ?? new ProtocolError('the upload call failed'); });
    // grpc-js alone waits only at 16 queued messages of any size: 16 chunk messages of up to 1 MiB.
    // Content also waits while more than MAX_UNSENT_CONTENT of it is not called back: handed to
    // HTTP/2, or for a call's first mebibyte to grpc-js's retry buffer (which keeps a copy until the
    // call commits to its first attempt), so up to about one mebibyte more. Queries, entries and the
    // commit go by grpc-js's own count.
    while (bytes > 0 && this.unsent.isOver(MAX_UNSENT_CONTENT)) {
      // grpc-js never calls back for a write of a failed call: the error and end handlers wake this too.
      if (this.failure) throw this.failure;
      if (this.endedError) throw this.endedError;
      await this.unsent.nextChange();
    }
  }

  /** Waits for the server's confirmation after Commit. */
  async finish(): Promise<BackupSummary> {
    this.call.end();
    return this.committed;
  }

  cancel(): void {
    this.call.cancel();
  }

  /**
   * Sends Abort and half-closes, so the server reads the reason before the call goes away
   * (a cancel right after the write used to overtake it); cancels if no answer comes in time.
   */
  async abort(reason: string, waitMs = 2000): Promise<void> {
    await this.send({ message: { $case: 'abort', value: { reason } } }).catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    try {
      this.call.end();
      await Promise.race([this.committed.catch(() => undefined), new Promise((resolve) => { timer = setTimeout(resolve, waitMs); })]);
    } finally {
      clearTimeout(timer);
      this.call.cancel();
    }
  }
}
