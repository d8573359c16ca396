// The client's side of the Upload call: sends with backpressure, and surfaces the server's
// error (or its commit summary) no matter whether the client is writing or waiting at that moment.
import { once } from 'node:events';
import type * as grpc from '@grpc/grpc-js';
import type { BackupSummary, UploadRequest, UploadResponse } from '../proto/cpsbackup';
import { ProtocolError } from '../common/errors';

export class UploadStream {
  private readonly failed: Promise<never>;
  readonly committed: Promise<BackupSummary>;

  constructor(private readonly call: grpc.ClientDuplexStream<UploadRequest, UploadResponse>, translate: (error: unknown) => Error) {
    let rejectFailed: (error: Error) => void = () => undefined;
    this.failed = new Promise<never>((_, reject) => { rejectFailed = reject; });
    this.failed.catch(() => undefined);
    this.committed = new Promise<BackupSummary>((resolve, reject) => {
      call.on('data', (response: UploadResponse) => {
        if (response.message?.$case === 'committed') resolve(response.message.value);
      });
      call.on('error', (error) => {
        const translated = translate(error);
        rejectFailed(translated);
        reject(translated);
      });
      call.on('end', () => reject(new ProtocolError('the server ended the backup without confirming it')));
    });
    this.committed.catch(() => undefined);
  }

  async send(request: UploadRequest): Promise<void> {
    if (this.call.write(request)) return;
    const controller = new AbortController();
    try {
      await Promise.race([once(this.call, 'drain', { signal: controller.signal }), this.failed]);
    } finally {
      controller.abort(); // drops the 'drain' listener when the call failed instead
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
