// Widens the HTTP/2 receive windows of the connections grpc-js serves, so a client can send ahead
// while the server's event loop is busy storing what it already has.
//
// HTTP/2 opens every connection and every stream with a 64 KiB receive window, reopened only when
// this process's event loop reads the socket. An upload then moved 64 KiB per turn of a server
// busy chunking and hashing the previous frame: the client, the server's main thread and its
// encoder worker took turns instead of overlapping (a 512 MiB first backup with server-side
// chunking, alternating runs: 9.0-9.2 s at 64 KiB, 7.2-7.4 s at 2 MiB; 1, 4 and 8 MiB gave the same
// as 2 within noise, widening only one of the two windows nothing). The client widens its own window for
// restores (common/tls/credentials.ts); grpc-js has no server option for either window.
import type { EventEmitter } from 'node:events';
import type { ServerHttp2Session } from 'node:http2';
import type * as grpc from '@grpc/grpc-js';

/** Two of the client's 1 MiB data frames in flight per stream and per connection. */
export const RECEIVE_WINDOW_BYTES = 2 * 1024 * 1024;

/** What this module reads of grpc-js's Server: private, so checked at run time (see http2ServersOf). */
interface Http2ServersHolder {
  readonly http2Servers?: unknown;
}

/** The HTTP/2 servers grpc-js holds now; an injector made after this call adds one. */
export function http2ServersOf(server: grpc.Server): ReadonlySet<EventEmitter> {
  const servers = (server as unknown as Http2ServersHolder).http2Servers;
  return servers instanceof Map ? new Set(servers.keys() as Iterable<EventEmitter>) : new Set();
}

/**
 * Gives every session of the HTTP/2 servers grpc-js created since `before` a receive window of
 * `bytes`, for the connection and for each stream. False when there was none to widen (a grpc-js
 * whose internals moved): the server still works, only uploads run slower, and the caller says so.
 */
export function widenReceiveWindows(server: grpc.Server, before: ReadonlySet<EventEmitter>, bytes = RECEIVE_WINDOW_BYTES): boolean {
  const added = [...http2ServersOf(server)].filter((http2Server) => !before.has(http2Server));
  for (const http2Server of added) {
    http2Server.on('session', (session: ServerHttp2Session) => {
      // The stream window through SETTINGS (before the client's first frame is acknowledged), the
      // connection's own through a WINDOW_UPDATE: SETTINGS cannot change the connection window.
      try {
        session.settings({ initialWindowSize: bytes });
        session.setLocalWindowSize(bytes);
      } catch {
        // A session destroyed as it began (the peer went away): nothing to widen.
      }
    });
  }
  return added.length > 0;
}
