// Builds grpc-js credentials for mutual TLS 1.3 from the server's and the node's configs.
// The server's side (the handshake, the revocation list) is src/server/transport/mutual-tls-listener.ts.
import * as grpc from '@grpc/grpc-js';
import { createSecureContext, type SecureContext } from 'node:tls';
import { ConfigError } from '../errors';
import type { NodeConfig } from '../config/node-config';
import { shownPath } from '../config/display';
import { FileProblem, readRegularFile } from '../config/regular-file';
import { networkTimeoutPings } from '../network-timeout';
import { nodeRevocationList } from './node-revocation-list';

/** gRPC messages are bounded; data frames are sized well below this. */
export const maxMessageBytes = 4 * 1024 * 1024;

export interface ServerIdentity {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** The server's certificate, key and the CA its clients' certificates must chain to (src/server/transport uses them). */
export function serverIdentity(config: { file: string; sslCa: string; sslCert: string; sslKey: string }): ServerIdentity {
  return { ca: readPem(config.file, config.sslCa), cert: readPem(config.file, config.sslCert), key: readPem(config.file, config.sslKey) };
}

/** ssl_ca alone: what a client of the server's HTTPS status port trusts (it may not read the key). */
export function trustedCa(config: { file: string; sslCa: string }): Buffer {
  return readPem(config.file, config.sslCa);
}

/**
 * The node's side of mutual TLS 1.3: its certificate and key, the CA the server's certificate must chain
 * to, and ssl_crl's lists, which OpenSSL then checks the server's certificate against (CERT_REVOKED).
 */
export function clientSecureContext(config: NodeConfig): SecureContext {
  const crl = nodeRevocationList(config);
  return createSecureContext({
    ca: readPem(config.file, config.sslCa),
    cert: readPem(config.file, config.sslCert),
    key: readPem(config.file, config.sslKey),
    ...(crl === undefined ? {} : { crl }),
    minVersion: 'TLSv1.3',
  });
}

export function clientCredentials(config: NodeConfig): grpc.ChannelCredentials {
  return grpc.credentials.createFromSecureContext(clientSecureContext(config));
}

const FLOW_CONTROL_WINDOW = 8 * 1024 * 1024;

export function channelOptions(config: NodeConfig): grpc.ChannelOptions {
  const options: grpc.ChannelOptions = {
    'grpc.max_send_message_length': maxMessageBytes,
    'grpc.max_receive_message_length': maxMessageBytes,
    // HTTP/2's default 64 KiB window let the server send a restore only as fast as this
    // process's event loop acknowledged it; while it wrote files, the server waited.
    'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW,
    // A frozen server or a host gone without a reset leaves the TCP connection open and silent, and a call
    // waiting to read from it waited for ever (a daemon's nightly job among them). Pings only while a call runs.
    ...networkTimeoutPings(config.networkTimeoutSeconds),
  };
  if (config.serverName !== undefined) options['grpc.ssl_target_name_override'] = config.serverName;
  return options;
}

/** Certificates and keys are a few KiB; read like any configured file, so a FIFO there never blocks. */
function readPem(configFile: string, file: string): Buffer {
  try {
    return readRegularFile(file);
  } catch (error) {
    if (!(error instanceof FileProblem)) throw error;
    throw new ConfigError(configFile, undefined, `${shownPath(file)} ${error.problem}`);
  }
}
