// Tells a server that refused this node's certificate (revoked, expired, another CA) from one that is
// down: grpc-js reports both as UNAVAILABLE ("Failed to connect", "read ECONNRESET"), so one handshake of our own decides.
import { isIP } from 'node:net';
import tls from 'node:tls';
import { AuthError, BusyError } from '../common/errors';
import { shown } from '../common/config/display';
import type { NodeConfig } from '../common/config/node-config';
import { clientSecureContext } from '../common/tls/credentials';
import { certificateSerial, type CertificateSerial } from '../common/tls/certificate-serial';
import { ServerUnreachableError } from './remote-error';

/** Long enough for a loaded server to answer a handshake; only paid after a connection already failed. */
const PROBE_TIMEOUT_MILLISECONDS = 5_000;

/** HTTP/2's client preface and an empty SETTINGS frame: a server that accepted us answers with its SETTINGS. */
const HTTP2_PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);

/**
 * - 'refused': our TLS 1.3 handshake completed (the server proved a certificate of our CA), then the server
 *   closed the connection or sent an alert before a byte of HTTP/2: what the server's listener does with a
 *   client certificate that fails verification (src/server/transport/mutual-tls-listener.ts).
 * - 'accepted': the server answered HTTP/2; 'unknown': no connection, a handshake that failed, or no answer.
 * - busy: it answered an HTTP/2 GOAWAY saying why (a connection cap: max_connections_per_client).
 * - revokedServer: the server's certificate is in node.conf's ssl_crl; nothing was sent to it.
 */
export type HandshakeVerdict = 'refused' | 'accepted' | 'unknown' | { readonly busy: string }
  | { readonly revokedServer: { readonly commonName: string | undefined; readonly serial: CertificateSerial } };

const HTTP2_GOAWAY = 7;

/** The debug text of an HTTP/2 GOAWAY among `data`'s frames: a server over a connection cap says why so. */
export function goawayReason(data: Buffer): string | undefined {
  for (let offset = 0; offset + 9 <= data.length;) {
    const length = data.readUIntBE(offset, 3);
    if (data[offset + 3] === HTTP2_GOAWAY && offset + 9 + length <= data.length && length >= 8) {
      return data.subarray(offset + 17, offset + 9 + length).toString('utf8');
    }
    offset += 9 + length;
  }
  return undefined;
}

export function probeHandshake(config: NodeConfig, timeoutMilliseconds = PROBE_TIMEOUT_MILLISECONDS): Promise<HandshakeVerdict> {
  return new Promise((resolve) => {
    let isHandshakeDone = false;
    const socket = tls.connect({
      host: config.server, port: config.port, secureContext: clientSecureContext(config), ALPNProtocols: ['h2'],
      // Checked below instead, where the server's certificate can still be read to say which one was revoked.
      rejectUnauthorized: false,
      // Node refuses an IP address as a TLS server name; the certificate is then checked against the address, as grpc-js does.
      servername: config.serverName ?? (isIP(config.server) === 0 ? config.server : undefined),
    });
    const finish = (verdict: HandshakeVerdict): void => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      resolve(verdict);
    };
    const timer = setTimeout(() => finish('unknown'), timeoutMilliseconds);
    socket.once('secureConnect', () => {
      if (!socket.authorized) {
        // Never a byte to a server this node does not trust; only a revoked certificate gets its own message.
        const peer = socket.getPeerCertificate();
        const isRevoked = String(socket.authorizationError) === 'CERT_REVOKED' && typeof peer.serialNumber === 'string';
        const commonName = typeof peer.subject?.CN === 'string' ? peer.subject.CN : undefined;
        return finish(isRevoked ? { revokedServer: { commonName, serial: certificateSerial(peer.serialNumber) } } : 'unknown');
      }
      isHandshakeDone = true;
      socket.write(HTTP2_PREFACE);
    });
    socket.once('data', (data: Buffer) => {
      const busy = goawayReason(data);
      finish(busy === undefined ? 'accepted' : { busy });
    });
    socket.once('error', () => finish(isHandshakeDone ? 'refused' : 'unknown'));
    socket.once('close', () => finish(isHandshakeDone ? 'refused' : 'unknown'));
  });
}

/**
 * A ServerUnreachableError becomes an AuthError (exit 12) when the server is up and refuses this node's
 * certificate; anything else, and a server that is down or cannot be judged, is returned as it was.
 */
export async function explainConnectionFailure(error: unknown, config: NodeConfig): Promise<unknown> {
  if (!(error instanceof ServerUnreachableError) || !error.mayBeCertificateRefusal) return error;
  const verdict = await probeHandshake(config);
  if (typeof verdict === 'object' && 'revokedServer' in verdict) {
    const { commonName, serial } = verdict.revokedServer;
    return new AuthError(`the server at ${error.serverAddress} presented a revoked certificate (${commonName === undefined ? 'no CN' : `CN ${shown(commonName)}`}, `
      + `serial ${serial}, listed in ssl_crl ${config.sslCrl ?? '?'}): this node will not talk to it; the server's operator must install a new server certificate`);
  }
  if (typeof verdict === 'object') return new BusyError(`the server at ${error.serverAddress} refused the connection: ${verdict.busy}`);
  if (verdict !== 'refused') return error;
  return new AuthError(`the server at ${error.serverAddress} refused this client's certificate ${config.sslCert} `
    + '(revoked, expired, signed by another CA, or without a client record on the server): ask the server\'s operator '
    + 'for a new one or for its record');
}
