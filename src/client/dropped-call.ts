// A call whose connection went away after the server had answered it ends as a dropped connection,
// whatever raw words grpc-js found for it: the user hears that the server stopped or the network failed.
//
// grpc-js words a server that stops mid-call several ways, by timing: "Received RST_STREAM with code 0 (Call
// ended without gRPC status)" (INTERNAL, said as "server error: …"), "read ECONNRESET" (UNAVAILABLE, which
// remote-error.ts explains as a server down or a certificate refused, since that is what it means before the
// server answered: TLS 1.3 lets the client finish its handshake before the server judges its certificate), or
// "Call cancelled" for a stream the server reset. Once the server has sent the call its headers or a message,
// the connection had passed the server's checks: it dropped. ("Connection dropped" is still probed for a
// revoked certificate by certificate-refusal.ts: a SIGHUP closes those connections mid-call.)
import * as grpc from '@grpc/grpc-js';

/** grpc-js's details for a connection lost mid-call, which remote-error.ts words for the user. */
const CONNECTION_DROPPED = 'Connection dropped';

/** A stream the server closed without trailers: whether or not it had answered, the server ended the call without a status. */
const ENDED_WITHOUT_STATUS = /^Received RST_STREAM with code 0\b/;
/** A socket's error, in grpc-js's words for a transport that failed under a running call. */
const SOCKET_FAILURE = /^(read|write) (ECONNRESET|EPIPE|ETIMEDOUT)$|^(ECONNRESET|EPIPE)\b/;
/** A stream the server reset with CANCEL; the client's own cancel says "Cancelled on client". */
const CANCELLED_BY_PEER = 'Call cancelled';

/** The status a call ends with: a transport failure after the server's answer becomes "Connection dropped". */
export function droppedCallStatus(status: grpc.StatusObject, isAnswered: boolean): grpc.StatusObject {
  const isDropped = (status.code === grpc.status.INTERNAL && ENDED_WITHOUT_STATUS.test(status.details))
    || (isAnswered && status.code === grpc.status.UNAVAILABLE && SOCKET_FAILURE.test(status.details))
    || (isAnswered && status.code === grpc.status.CANCELLED && status.details === CANCELLED_BY_PEER);
  return isDropped ? { ...status, code: grpc.status.UNAVAILABLE, details: CONNECTION_DROPPED } : status;
}

/** Given to the channel's client (connection.ts): notes whether the server answered each call. */
export const droppedCallInterceptor: grpc.Interceptor = (options, nextCall) => new grpc.InterceptingCall(nextCall(options), {
  start: (metadata, _listener, next) => {
    let isAnswered = false;
    next(metadata, {
      onReceiveMetadata: (received, nextMetadata) => {
        isAnswered = true;
        nextMetadata(received);
      },
      onReceiveMessage: (message, nextMessage) => {
        isAnswered = true;
        nextMessage(message);
      },
      onReceiveStatus: (status, nextStatus) => nextStatus(droppedCallStatus(status, isAnswered)),
    });
  },
});
