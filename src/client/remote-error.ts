// Turns a gRPC error from the server back into the typed error it was there, with the server's message.
import * as grpc from '@grpc/grpc-js';
import { AuthError, BackupError, BusyError, CorruptError, DiskFullError, InvalidPatternError, LimitError, NotFoundError, ProtocolError, type ErrorCode } from '../common/errors';

/**
 * grpc-js says UNAVAILABLE alike for a server that is down and for one that refused this client's
 * certificate at the handshake; explainConnectionFailure (certificate-refusal.ts) tells them apart.
 */
export class ServerUnreachableError extends BackupError {
  constructor(readonly serverAddress: string, readonly detail: string) {
    super('IO', unreachableMessage(serverAddress, detail));
  }

  /**
   * False for a channel closed after network_timeout spent connecting: a server that refuses a
   * certificate does so at once, and probing one that answers nothing would only add the probe's own
   * timeout. A connection dropped mid-call is probed: the server closes those of a certificate it revoked.
   */
  get mayBeCertificateRefusal(): boolean {
    return this.detail !== CLOSED_CONNECTING;
  }
}

/** grpc-js's words for an HTTP/2 stream the server reset with ENHANCE_YOUR_CALM. */
const STREAM_RESET_BY_SERVER = 'Bandwidth exhausted or memory limit exceeded';
/** grpc-js's words for a connection lost mid-call, a keepalive ping unanswered among the causes. */
const CONNECTION_DROPPED = 'Connection dropped';
/** grpc-js's words for the calls of a channel closed while connecting: connection.ts closes one that connects too long. */
const CLOSED_CONNECTING = 'Channel closed before call started';

function unreachableMessage(serverAddress: string, detail: string): string {
  if (detail === CONNECTION_DROPPED) {
    return `the connection to the backup server at ${serverAddress} dropped: the server stopped, the network failed, `
      + 'or the server answered nothing, not even a ping, for network_timeout (node.conf)';
  }
  if (detail === CLOSED_CONNECTING) {
    return `no connection to the backup server at ${serverAddress} within network_timeout (node.conf): `
      + 'its host is down or unreachable, or the server is frozen or overloaded';
  }
  const said = detail.replace(/\s*Resolution note:\s*$/, '');
  return `cannot reach the backup server at ${serverAddress}: ${said} (${handshakeHint(said) ?? 'is it running, and do the certificates match?'})`;
}

/**
 * What the handshake's own words mean here: they name neither the certificate (the server's, checked
 * against ssl_ca) nor the likely cause, and a node whose clock is a year behind was sent to look at
 * certificates that were fine.
 */
function handshakeHint(detail: string): string | undefined {
  const now = new Date().toISOString();
  if (/certificate is not yet valid/.test(detail)) {
    return `the server's certificate is not valid yet by this machine's clock (${now}): is this clock, or the server's, wrong?`;
  }
  if (/certificate has expired/.test(detail)) {
    return `the server's certificate has expired by this machine's clock (${now}): renew it (cpsbackup-ca server), or check this clock`;
  }
  if (/self[- ]signed certificate|unable to get (local )?issuer certificate|unable to verify the first certificate/.test(detail)) {
    return 'the server\'s certificate is not signed by the CA in ssl_ca (node.conf): is it the CA that issued the server\'s certificate?';
  }
  if (/ERR_TLS_CERT_ALTNAME_INVALID|does not match certificate's altnames/.test(detail)) {
    return 'the server\'s certificate is not issued for the name this node checks: server_name in node.conf (or server, '
      + 'when server_name is unset) must be one of the certificate\'s names, listed above as its altnames';
  }
  if (/wrong version number|packet length too long|http request/i.test(detail)) {
    return 'what answers at that port does not speak TLS: is port (node.conf) the server\'s port, not its status_port?';
  }
  return undefined;
}

const LOCAL_CODEC_FAILURES = [
  { prefix: 'Request message serialization failure: ', meaning: 'this client could not encode a message to the server' },
  { prefix: 'Response message parsing error: ', meaning: 'this client could not read a message from the server' },
];

export function fromServiceError(error: unknown, serverAddress: string): Error {
  if (error instanceof BackupError) return error;
  const serviceError = error as Partial<grpc.ServiceError>;
  if (typeof serviceError.code !== 'number') return error as Error;
  const message = serviceError.details || serviceError.message || 'unknown error';
  const code = serviceError.metadata?.get('cpsbackup-error-code')[0]?.toString() as ErrorCode | undefined;
  switch (code) {
    case 'AUTH': return new AuthError(`server refused: ${message}`);
    case 'NOT_FOUND': return new NotFoundError(message);
    case 'CORRUPT': return new CorruptError(message);
    case 'BUSY': return new BusyError(message);
    case 'DISK_FULL': return new DiskFullError(message);
    case 'LIMIT': return new LimitError(message);
    case 'PROTOCOL': return new ProtocolError(message);
    case 'INVALID_ARGUMENT': return new InvalidPatternError(message);
    default: break;
  }
  // grpc-js's own statuses for a message this process could not encode or decode: raised here, not by
  // the server, so "server error" would send the operator to the wrong machine's log.
  const local = LOCAL_CODEC_FAILURES.find(({ prefix }) => message.startsWith(prefix));
  if (local !== undefined) return new ProtocolError(`${local.meaning}: ${message.slice(local.prefix.length)}`);
  if (serviceError.code === grpc.status.UNAVAILABLE) return new ServerUnreachableError(serverAddress, message);
  if (serviceError.code === grpc.status.CANCELLED) return new BackupError('INTERRUPTED', 'cancelled');
  // The server says ENHANCE_YOUR_CALM for two things (grpc-js words both as if memory had run out): a reset
  // stream, whose call took nothing it sent for its idle_timeout (stream-write.ts), and a GOAWAY to a
  // connection over its caps (mutual-tls-listener.ts).
  if (serviceError.code === grpc.status.RESOURCE_EXHAUSTED && message === STREAM_RESET_BY_SERVER) {
    return new LimitError(`the server at ${serverAddress} ended the call: this node already had max_connections_per_client `
      + 'connections open (or the server max_connections), or this client took nothing the server sent for its idle_timeout '
      + '(a restore onto a slow disk may need a longer one); the server\'s log says which');
  }
  return new BackupError('IO', `server error: ${message}`);
}
