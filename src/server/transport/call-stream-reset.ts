// Resets the HTTP/2 stream under a grpc-js server call: the only way to end a call whose client reads nothing.
// A status (grpc-js's end(), its 'error' event, even its own deadline) goes out as trailers after the data
// already queued, which a client that does not read never lets through: the call stayed open with its
// buffered messages, however the handler ended.
import { constants, type ServerHttp2Stream } from 'node:http2';

/** What this module reads of grpc-js's calls: private, so checked at run time (as receive-window.ts does). */
interface CallInternals {
  /** ServerWritableStreamImpl and ServerDuplexStreamImpl: the intercepting call under them. */
  readonly call?: unknown;
}
interface InterceptingCallInternals {
  /** BaseServerInterceptingCall: the HTTP/2 stream. */
  readonly stream?: unknown;
  /** ServerInterceptingCall (with interceptors): the next call down. */
  readonly nextCall?: unknown;
}

/**
 * Sends RST_STREAM with ENHANCE_YOUR_CALM (grpc-js clients report RESOURCE_EXHAUSTED) and drops what was
 * queued; grpc-js then says 'cancelled' to the handler. False when this grpc-js keeps its stream elsewhere:
 * the call then stays open until the client goes, though its handler has ended and let go of the store.
 */
export function resetCallStream(call: object): boolean {
  let layer = (call as CallInternals).call;
  for (let depth = 0; depth < 10 && typeof layer === 'object' && layer !== null; depth++) {
    const { stream, nextCall } = layer as InterceptingCallInternals;
    if (isHttp2Stream(stream)) {
      if (!stream.closed && !stream.destroyed) stream.close(constants.NGHTTP2_ENHANCE_YOUR_CALM);
      return true;
    }
    layer = nextCall;
  }
  return false;
}

function isHttp2Stream(value: unknown): value is ServerHttp2Stream {
  return typeof value === 'object' && value !== null && typeof (value as ServerHttp2Stream).close === 'function'
    && 'rstCode' in value && typeof (value as ServerHttp2Stream).respond === 'function';
}
