// How long a server stream waits for its client to take what was already sent (server.conf's idle_timeout),
// set on every streaming call as it starts (backup-server.ts) and read by every wait in stream-write.ts.
//
// A client that stops reading still answers HTTP/2 pings, so network_timeout never ends its call: a restore
// held its reader lease for ever, and with it every pack GC doomed afterwards stayed on disk.
import type * as grpc from '@grpc/grpc-js';
import { shown } from '../common/config/display';
import { peerCommonName } from '../common/tls/peer';

export interface DrainLimit {
  readonly milliseconds: number;
  /** The server.conf key that sets it, for the error that names it. */
  readonly setting: string;
  /** Who was not reading, for the log: the certificate's CN and the peer's address. */
  readonly caller: string;
}

/** Kept on the call object itself: a limit belongs to one call, and no table outlives it. */
const DRAIN_LIMIT = Symbol('drain limit');

type Limited = { [DRAIN_LIMIT]?: DrainLimit };

type StreamingCall = Pick<grpc.ServerWritableStream<unknown, unknown>, 'getAuthContext' | 'getPeer'>;

/** The limit for one call: `seconds` as the key gives it, the caller named by its certificate and address. */
export function drainLimitFor(call: StreamingCall, seconds: number, setting: string): DrainLimit {
  const commonName = peerCommonName(call);
  const caller = `${commonName === undefined ? 'a client without a usable certificate' : `client "${shown(commonName)}"`} at ${call.getPeer()}`;
  return { milliseconds: seconds * 1000, setting, caller };
}

/** Returns `stream`, whose waits for its client now end after the limit. */
export function withDrainLimit<S extends object>(stream: S, limit: DrainLimit): S {
  (stream as S & Limited)[DRAIN_LIMIT] = limit;
  return stream;
}

/**
 * The limit set on `stream`. A stream without one is a handler registered without it: refused at its first
 * wait, never left to wait without end.
 */
export function drainLimitOf(stream: object): DrainLimit {
  const limit = (stream as Limited)[DRAIN_LIMIT];
  if (limit === undefined) throw new Error('a server stream has no drain limit: register its handler through withDrainLimit (backup-server.ts)');
  return limit;
}
