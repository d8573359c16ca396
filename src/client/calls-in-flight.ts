// The calls of one channel that have not ended yet, and what becomes of them when the event loop
// empties while one is in flight: it ends as a dropped connection, not as a process that stops mid-work.
//
// With a call in flight, grpc-js keeps its connection referenced (and reading), or, while it connects, a
// timer of its own: the event loop cannot empty. Node's HTTP/2 can still lose a connection the server
// closed without a word to grpc-js (nodejs/node#28514 and kin): seen here when a revocation's SIGHUP
// closed a backup's connection mid-upload, about once in 40 runs under load. The call then waited for an
// error that never came, nothing kept the process alive, and the CLI ended with "the work stopped before
// it finished" (exit 1) where the server's refusal of the certificate (exit 12) was the truth. An empty
// event loop with a call in flight therefore means that its connection is dead: each such call is ended
// with grpc-js's own status for a connection lost mid-call, which the caller explains as it would any
// drop (remote-error.ts; a revoked certificate is told apart by certificate-refusal.ts).
import * as grpc from '@grpc/grpc-js';

/** grpc-js's details for a connection lost mid-call (remote-error.ts words it for the user). */
const CONNECTION_DROPPED = 'Connection dropped';

export class CallsInFlight {
  private readonly calls = new Set<grpc.InterceptingCall>();
  private readonly onLoopEmpty = (): void => {
    for (const call of [...this.calls]) call.cancelWithStatus(grpc.status.UNAVAILABLE, CONNECTION_DROPPED);
  };

  /** Given to the channel's client: follows each call from its start to its status. */
  readonly interceptor: grpc.Interceptor = (options, nextCall) => {
    const call: grpc.InterceptingCall = new grpc.InterceptingCall(nextCall(options), {
      start: (metadata, _listener, next) => {
        this.add(call);
        next(metadata, {
          onReceiveStatus: (status, nextStatus) => {
            this.remove(call);
            nextStatus(status);
          },
        });
      },
    });
    return call;
  };

  get size(): number {
    return this.calls.size;
  }

  private add(call: grpc.InterceptingCall): void {
    // Listened to only while a call is in flight: a process that is done with the server must end as it would.
    if (this.calls.size === 0) process.on('beforeExit', this.onLoopEmpty);
    this.calls.add(call);
  }

  private remove(call: grpc.InterceptingCall): void {
    if (!this.calls.delete(call)) return;
    if (this.calls.size === 0) process.off('beforeExit', this.onLoopEmpty);
  }
}
