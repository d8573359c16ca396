// Accepts the server's TLS 1.3 connections itself and hands only verified ones to grpc-js.
// Owning the handshake lets the server check the CA's revocation list, reload it on SIGHUP, and log who it refused;
// a connection is served only while its certificate would pass a fresh handshake (certificate-in-force.ts).
import * as grpc from '@grpc/grpc-js';
import { lookup } from 'node:dns/promises';
import { constants as cryptoConstants } from 'node:crypto';
import { isIP, type Socket } from 'node:net';
import tls from 'node:tls';
import { shown, shownPath } from '../../common/config/display';
import { errorMessage } from '../../common/errors';
import type { Logger } from '../../common/logger';
import { serverIdentity, type ServerIdentity } from '../../common/tls/credentials';
import { certificateSerial, parseCertificateSerial, type CertificateSerial } from '../../common/tls/certificate-serial';
import { http2ServersOf, widenReceiveWindows } from './receive-window';
import { RefusalLog } from './refusal-log';
import { refusedClientName } from './refused-client';
import { checkListIssuer } from '../../common/tls/ca-certificates';
import { checkServerIdentity, describeServerCertificate } from './tls-files-check';
import { describeRevocationList, readRevocationList, type RevocationList, type RevocationSettings } from './revocation-list';
import { atExpiry, caCertificatesOf, isChainedToOneOf, outOfDateReason } from './certificate-in-force';

const handshakeTimeoutMilliseconds = 10_000;

export interface MutualTlsSettings extends RevocationSettings {
  readonly address: string;
  readonly port: number;
  readonly sslCert: string;
  readonly sslKey: string;
  /** Verified connections at once, all clients together; also each TLS listener's cap on sockets, handshakes included. */
  readonly maxConnections: number;
  /** Verified connections at once with one certificate CN. */
  readonly maxConnectionsPerClient: number;
}

/** Who may have a connection: the client records, read at each accept (a SIGHUP replaces them). */
export interface AcceptedNames {
  readonly current: {
    lookup(commonName: string): { readonly isAccepted: true; readonly record: { readonly name: string } } | { readonly isAccepted: false; readonly why: string };
  };
}

export interface MutualTlsListener {
  readonly port: number;
  /**
   * Rereads the server's certificate, key and CA, and the revocation list, for the next handshakes, and
   * closes open connections the list revokes, whose certificate no CA of a new ssl_ca signed, or whose client
   * record is gone (read it first: names.current).
   * Each part that is unusable keeps its previous state (the reason logged); false when any part was kept.
   */
  reload(): boolean;
  /** The certificate, key and CA in force (the status port serves the same certificate). */
  readonly identity: ServerIdentity;
  /**
   * Stops accepting; a handshake still running is refused when it ends; grpc-js closes the sessions it was given.
   * After the server's tryShutdown, never before: tryShutdown takes a session already closing for closed and
   * does not wait for its calls (backup-server.ts).
   */
  close(): void;
}

/**
 * The revocation list checked as a reload checks it, for the start, before the store is opened: with
 * another CA's list OpenSSL refuses every client, so such a server must not start as if serving. (The
 * certificate's dates and issuer are warnings at start, from the configuration's own check.)
 */
export function checkRevocationListAtStart(settings: MutualTlsSettings): void {
  const { ca } = serverIdentity(settings);
  checkListIssuer(settings, readRevocationList(settings, ca), ca);
}

/**
 * grpc-js's own TLS server drops a certificate that fails verification without a trace, and takes its
 * secure context once. Here node:tls verifies (CA, dates, revocation list); a connection that fails is
 * destroyed right after the handshake, before any HTTP/2 frame is read, and logged with the certificate's
 * CN; one that passes is injected into grpc-js, whose calls still read the verified certificate.
 */
export async function listenWithMutualTls(server: grpc.Server, settings: MutualTlsSettings, logger: Logger, names: AcceptedNames,
  /** A known client's own certificate refused at the handshake (refused-client.ts): its failed attempt. */
  onClientRefused: (clientName: string, reason: string) => void = () => undefined): Promise<MutualTlsListener> {
  let identity = serverIdentity(settings);
  let revocations = readRevocationList(settings, identity.ca);
  checkListIssuer(settings, revocations, identity.ca);
  logRevocations(logger, describeRevocationList(settings, revocations), '');
  // Verified connections handed to grpc-js, with their certificate's serial and CN: a reload closes the revoked
  // ones and those whose client record is gone.
  const open = new Map<tls.TLSSocket, { readonly serial: CertificateSerial; readonly commonName: string }>();
  const openByName = new Map<string, number>();
  /** Ends an accepted connection its certificate or record no longer lets in, said in the log the same way for each cause. */
  const closeOpenConnection = (socket: tls.TLSSocket, serial: CertificateSerial, reason: string): void => {
    logger.warn(`closing the open connection from ${peerOf(socket)}: client ${commonNameOf(socket)} (serial ${serial}): ${reason}`);
    socket.destroy();
  };
  const serversBefore = http2ServersOf(server);
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  if (!widenReceiveWindows(server, serversBefore)) {
    logger.warn('could not widen the HTTP/2 receive window (this grpc-js keeps its servers elsewhere): uploads run at 64 KiB per turn of the event loop');
  }
  let isClosed = false;
  const refusals = new RefusalLog(logger);
  const accept = (socket: tls.TLSSocket): void => {
    if (isClosed) {
      socket.destroy();
      return;
    }
    // A resumed TLS session is "authorized" without its certificate's dates being looked at again: a session
    // taken before the certificate expired let it in after. Resumption is off (contextOptions); this does not rely on it.
    const outOfDate = socket.authorized ? outOfDateRefusalOf(socket) : undefined;
    if (!socket.authorized || outOfDate !== undefined) {
      const refusal = outOfDate ?? refusalOf(socket);
      refusals.refused(socket.remoteAddress ?? '?', refusal.kind, refusal.message);
      const commonName = refusedClientName(socket, identity.ca);
      const lookup = commonName === undefined ? undefined : names.current.lookup(commonName);
      // Under the record's name, which the status page and notifications use (clients/web1 may hold ssl_peer_cn = node2).
      if (lookup?.isAccepted === true) onClientRefused(lookup.record.name, refusal.kind);
      socket.destroy();
      return;
    }
    // Before HTTP/2: a certificate of our CA without a client record used to get a whole gRPC session, and each of
    // its streams could make grpc-js buffer up to a 4 MiB message before the call was refused. Calls still check
    // the record (a SIGHUP can remove it while the connection is open).
    const refusal = unacceptedRefusalOf(socket, names, open.size, openByName, settings);
    if (refusal !== undefined) {
      refusals.refused(socket.remoteAddress ?? '?', refusal.kind, refusal.message);
      if (refusal.isBusy) refuseAsBusy(socket, refusal.kind);
      else socket.destroy();
      return;
    }
    const commonName = socket.getPeerCertificate().subject.CN as string;
    const serial = certificateSerial(socket.getPeerCertificate().serialNumber);
    open.set(socket, { serial, commonName });
    openByName.set(commonName, (openByName.get(commonName) ?? 0) + 1);
    socket.once('close', () => {
      open.delete(socket);
      const left = (openByName.get(commonName) ?? 1) - 1;
      if (left > 0) openByName.set(commonName, left);
      else openByName.delete(commonName);
    });
    // Expiry ends the connection, as a revocation does: a client kept its connection, and the server took its calls, for as long as it liked.
    atExpiry(socket, (reason) => closeOpenConnection(socket, serial, reason));
    injector.injectConnection(socket);
  };
  const tlsServers: tls.Server[] = [];
  let port = settings.port;
  const failures: string[] = [];
  let firstError: unknown;
  // Like grpc-js's bindAsync: every address the name resolves to, on one port (the first one's when port = 0).
  for (const address of await addressesOf(settings.address)) {
    // Not tlsServer.maxConnections: it counts handshakes not yet done, which anyone reaching the port can hold
    // (up to handshakeTimeoutMilliseconds each), and a few hundred silent sockets kept every client out
    // (review of bf53173). max_connections counts verified connections only (unacceptedRefusalOf).
    const tlsServer = createTlsServer(contextOptions(identity, revocations), accept);
    try {
      await listen(tlsServer, port, address);
    } catch (error) {
      failures.push(`${address}: ${errorMessage(error)}`);
      firstError ??= error;
      continue;
    }
    // Later errors (out of file descriptors while accepting) must not crash the server; connections come back when they pass.
    tlsServer.on('error', (error) => logger.error(`TLS listener on ${address}: ${errorMessage(error)}`));
    const bound = tlsServer.address();
    if (port === 0 && typeof bound === 'object' && bound !== null) port = bound.port;
    tlsServers.push(tlsServer);
  }
  // A taken port at start is the caller's to report (cpsbackup-server: exit 2 naming address and port).
  if (tlsServers.length === 0) {
    refusals.close();
    throw firstError;
  }
  for (const failure of failures) logger.warn(`not listening on ${failure}`);
  return {
    port,
    get identity(): ServerIdentity {
      return identity;
    },
    reload(): boolean {
      // Certificate, key and CA go together; the revocation list is applied even when they cannot be:
      // a revocation must never wait for a renewal to be fixed.
      let nextIdentity = identity;
      let isIdentityReloaded = true;
      try {
        const candidate = serverIdentity(settings);
        checkServerIdentity(settings, candidate);
        nextIdentity = candidate;
      } catch (error) {
        isIdentityReloaded = false;
        logger.error(`server certificate, key and CA not reloaded, the previous ones stay in force: ${errorMessage(error)}`);
      }
      let next = revocations;
      let isListReloaded = true;
      try {
        next = readRevocationList(settings, nextIdentity.ca);
        checkListIssuer(settings, next, nextIdentity.ca);
      } catch (error) {
        isListReloaded = false;
        next = revocations;
        logger.error(`revocation list not reloaded, the previous one stays in force: ${errorMessage(error)}`);
        if (!nextIdentity.ca.equals(identity.ca)) {
          // The previous list is the previous CA's: with the new CA it would refuse every client.
          logger.error(`the new CA of ${shownPath(settings.sslCa)} is not taken either: it needs a revocation list of its own`);
          nextIdentity = identity;
          isIdentityReloaded = false;
        }
      }
      try {
        const options = contextOptions(nextIdentity, next);
        for (const tlsServer of tlsServers) tlsServer.setSecureContext(options);
      } catch (error) {
        logger.error(`TLS settings not reloaded, the previous ones stay in force: ${errorMessage(error)}`);
        return false;
      }
      if (!nextIdentity.cert.equals(identity.cert)) logger.info(`reloaded: ${describeServerCertificate(settings, nextIdentity)}`);
      // The CAs to judge open connections by, when they changed: a connection is served only while its certificate would pass a handshake now.
      const newCas = nextIdentity.ca.equals(identity.ca) ? undefined : caCertificatesOf(nextIdentity.ca);
      if (newCas !== undefined) logger.warn(`reloaded: a different CA (${shownPath(settings.sslCa)}): clients whose certificates it did not sign are refused from now on, and their open connections closed`);
      identity = nextIdentity;
      revocations = next;
      if (isListReloaded) logRevocations(logger, describeRevocationList(settings, revocations), 'reloaded: ');
      for (const [socket, { serial, commonName }] of open) {
        // Closed already (by its peer, or by an earlier reload), its 'close' event not yet run.
        if (socket.destroyed) continue;
        const record = names.current.lookup(commonName);
        if (newCas !== undefined && !isChainedToOneOf(socket, newCas)) {
          // A new ssl_ca refuses the old CA's certificates at the handshake; a connection opened before would go on for as long as its client kept it.
          closeOpenConnection(socket, serial, `certificate not issued by a CA of ssl_ca ${shownPath(settings.sslCa)}`);
        } else if (revocations?.contents.revokedSerials.has(serial) === true) {
          // The handshake passed before the revocation: without this, an open channel would go on for hours.
          closeOpenConnection(socket, serial, 'certificate revoked');
        } else if (!record.isAccepted) {
          // A client removed (or its record refused) by this reload: a backup it is running would otherwise commit.
          closeOpenConnection(socket, serial, `no accepted client record (${record.why})`);
        }
      }
      return isIdentityReloaded && isListReloaded;
    },
    close(): void {
      isClosed = true;
      refusals.close();
      for (const tlsServer of tlsServers) tlsServer.close();
      injector.destroy();
    },
  };
}

function createTlsServer(context: tls.SecureContextOptions, accept: (socket: tls.TLSSocket) => void): tls.Server {
  const tlsServer = tls.createServer({
    ...context,
    requestCert: true,
    // Judged in accept(), from socket.authorized, so that a refusal can be logged with the certificate it refused.
    rejectUnauthorized: false,
    ALPNProtocols: ['h2'],
    // Node's default is 120 s; a handshake in flight at shutdown keeps the process up this long at most.
    handshakeTimeout: handshakeTimeoutMilliseconds,
  });
  tlsServer.on('connection', (socket: Socket) => {
    // A peer that resets mid-handshake is reported through 'tlsClientError'; this only keeps it from crashing.
    socket.on('error', () => undefined);
  });
  tlsServer.on('secureConnection', accept);
  // A failed handshake (no TLS 1.3, garbage, a scanner) is the peer's problem and would flood the log; like grpc-js, say nothing.
  tlsServer.on('tlsClientError', () => undefined);
  return tlsServer;
}

function listen(tlsServer: tls.Server, port: number, address: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    tlsServer.once('error', reject);
    tlsServer.listen(port, address, () => {
      tlsServer.off('error', reject);
      resolve();
    });
  });
}

async function addressesOf(address: string): Promise<string[]> {
  if (isIP(address) !== 0) return [address];
  const found = await lookup(address, { all: true });
  return [...new Set(found.map((entry) => entry.address))];
}

/**
 * SSL_OP_NO_TICKET: no stateless session tickets, and without a 'resumeSession' listener no stateful ones either, so
 * every connection is a full handshake that checks the certificate, CA, dates and list in force. A ticket resumed a
 * session without those checks; only a SIGHUP's fresh ticket keys made a revocation hold against it.
 */
function contextOptions(identity: ServerIdentity, revocations: RevocationList): tls.SecureContextOptions {
  return {
    ...identity, minVersion: 'TLSv1.3', secureOptions: cryptoConstants.SSL_OP_NO_TICKET,
    ...(revocations === undefined ? {} : { crl: [...revocations.pem] }),
  };
}

function logRevocations(logger: Logger, described: { text: string; isExpired: boolean }, prefix: string): void {
  if (described.isExpired) logger.error(`${prefix}${described.text}`);
  else logger.info(`${prefix}${described.text}`);
}

function peerOf(socket: tls.TLSSocket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}

function commonNameOf(socket: tls.TLSSocket): string {
  const commonName = socket.getPeerCertificate().subject?.CN;
  return typeof commonName === 'string' ? `"${shown(commonName)}"` : '(no CN)';
}

/**
 * Why a verified connection is refused, or undefined: its certificate has no accepted client record
 * (the CN must be a string: node:tls gives an array for a subject with two), or it would pass a connection cap.
 */
function unacceptedRefusalOf(socket: tls.TLSSocket, names: AcceptedNames, openCount: number, openByName: ReadonlyMap<string, number>,
  settings: MutualTlsSettings): { readonly kind: string; readonly message: string; readonly isBusy: boolean } | undefined {
  const certificate = socket.getPeerCertificate();
  const commonName = certificate.subject?.CN;
  const serial = serialNote(certificate);
  let kind: string | undefined;
  let detail = '';
  let isBusy = false;
  if (typeof commonName !== 'string' || commonName === '') kind = `certificate${serial} without one usable CN`;
  else {
    const lookup = names.current.lookup(commonName);
    if (!lookup.isAccepted) {
      kind = `client ${commonNameOf(socket)}${serial}: no accepted client record`;
      detail = ` (${lookup.why})`;
    } else if ((openByName.get(commonName) ?? 0) >= settings.maxConnectionsPerClient) {
      kind = `client ${commonNameOf(socket)}: too many connections (max_connections_per_client = ${settings.maxConnectionsPerClient})`;
      isBusy = true;
    } else if (openCount >= settings.maxConnections) {
      kind = `client ${commonNameOf(socket)}: too many connections (max_connections = ${settings.maxConnections})`;
      isBusy = true;
    }
  }
  return kind === undefined ? undefined : { kind, message: `refused a connection from ${peerOf(socket)}: ${kind}${detail}`, isBusy };
}

/** A verified certificate whose dates do not hold now (a resumed session's), as refusalOf() says it; undefined when they hold. */
function outOfDateRefusalOf(socket: tls.TLSSocket): { readonly kind: string; readonly message: string } | undefined {
  const certificate = socket.getPeerX509Certificate();
  const reason = certificate === undefined ? 'no client certificate' : outOfDateReason(certificate, Date.now());
  if (reason === undefined) return undefined;
  const kind = `client ${commonNameOf(socket)}${serialNote(socket.getPeerCertificate())}: ${reason}`;
  return { kind, message: `refused a connection from ${peerOf(socket)}: ${kind}` };
}

/** Why a connection was refused: `kind` without the peer's port (what RefusalLog counts repeats of), and the log line. */
function refusalOf(socket: tls.TLSSocket): { readonly kind: string; readonly message: string } {
  const certificate = socket.getPeerCertificate();
  let kind: string;
  // Node gives an empty object when the peer sent no certificate.
  if (certificate === null || Object.keys(certificate).length === 0) kind = 'no client certificate';
  else {
    const commonName = commonNameOf(socket);
    const serial = serialNote(certificate);
    const reason = String(socket.authorizationError);
    const hint = reason === 'UNABLE_TO_GET_CRL' || reason === 'CRL_HAS_EXPIRED' || reason === 'CRL_SIGNATURE_FAILURE'
      ? ' (the revocation list is not from ssl_ca\'s CA, or has expired: rewrite it with cpsbackup-ca crl, then SIGHUP)'
      : reason === 'CERT_NOT_YET_VALID' || reason === 'CERT_HAS_EXPIRED'
        // A new certificate does not help when a clock is wrong. No time in it: repeats of a kind are counted, not logged.
        ? ' (by this server\'s clock: if the certificate\'s dates are right, this clock or the client\'s is wrong)'
        : '';
    kind = reason === 'CERT_REVOKED'
      ? `client ${commonName}${serial}: certificate revoked`
      : `client ${commonName}${serial}: certificate not accepted (${reason})${hint}`;
  }
  return { kind, message: `refused a connection from ${peerOf(socket)}: ${kind}` };
}

/** HTTP/2's empty SETTINGS frame, the server's connection preface. */
const HTTP2_SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
const HTTP2_GOAWAY = 7;
const ENHANCE_YOUR_CALM = 0xb;

/**
 * A verified client over a connection cap is told so in HTTP/2 (a GOAWAY whose debug data is the reason)
 * rather than by a bare close: a close right after the handshake is how a refused certificate looks, and
 * the client then sent its operator to look at a certificate that was fine (review of bf53173).
 */
function refuseAsBusy(socket: tls.TLSSocket, reason: string): void {
  const debug = Buffer.from(reason.slice(0, 240));
  const goaway = Buffer.alloc(17 + debug.length);
  goaway.writeUIntBE(8 + debug.length, 0, 3);
  goaway[3] = HTTP2_GOAWAY;
  goaway.writeUInt32BE(ENHANCE_YOUR_CALM, 13);
  debug.copy(goaway, 17);
  socket.on('error', () => undefined);
  socket.end(Buffer.concat([HTTP2_SETTINGS, goaway]));
  setTimeout(() => socket.destroy(), handshakeTimeoutMilliseconds).unref();
}

/** ` (serial 0A1B)` as the CA spells it (an operator looks it up in cpsbackup-ca list), or nothing for a certificate without a readable one. */
function serialNote(certificate: tls.PeerCertificate): string {
  const serial = typeof certificate.serialNumber === 'string' ? parseCertificateSerial(certificate.serialNumber) : undefined;
  return serial === undefined ? '' : ` (serial ${serial})`;
}
