// Builds grpc-js credentials for mutual TLS 1.3 from the server's and the node's configs.
// The server refuses any peer without a certificate signed by our CA, at the handshake.
import * as grpc from '@grpc/grpc-js';
import type { SecureServerOptions } from 'node:http2';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { ConfigError } from '../errors';
import type { NodeConfig } from '../config/node-config';
import type { ServerConfig } from '../config/server-config';
import { shownPath } from '../config/display';
import { FileProblem, readRegularFile } from '../config/regular-file';

/** gRPC messages are bounded; data frames are sized well below this. */
export const maxMessageBytes = 4 * 1024 * 1024;

/**
 * grpc-js 1.14's createSsl(ca, pairs, true) takes no minimum TLS version, so it would accept
 * TLS 1.2. Its public ServerCredentials constructor takes the http2 server options directly,
 * which lets us pin TLS 1.3 and require a verified client certificate in one place.
 */
class MutualTls13ServerCredentials extends grpc.ServerCredentials {
  private readonly fingerprint: string;
  constructor(serverOptions: SecureServerOptions, contextOptions: SecureContextOptions, fingerprint: string) {
    super(serverOptions, contextOptions);
    this.fingerprint = fingerprint;
  }
  _equals(other: grpc.ServerCredentials): boolean {
    return other instanceof MutualTls13ServerCredentials && other.fingerprint === this.fingerprint;
  }
}

export function serverCredentials(config: ServerConfig): grpc.ServerCredentials {
  const ca = readPem(config.file, config.sslCa);
  const cert = readPem(config.file, config.sslCert);
  const key = readPem(config.file, config.sslKey);
  return new MutualTls13ServerCredentials(
    { requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' },
    { ca, cert, key, minVersion: 'TLSv1.3' },
    [config.sslCa, config.sslCert, config.sslKey].join('\0'),
  );
}

export function clientCredentials(config: NodeConfig): grpc.ChannelCredentials {
  const context = createSecureContext({
    ca: readPem(config.file, config.sslCa),
    cert: readPem(config.file, config.sslCert),
    key: readPem(config.file, config.sslKey),
    minVersion: 'TLSv1.3',
  });
  return grpc.credentials.createFromSecureContext(context);
}

const FLOW_CONTROL_WINDOW = 8 * 1024 * 1024;

export function channelOptions(config: NodeConfig): grpc.ChannelOptions {
  const options: grpc.ChannelOptions = {
    'grpc.max_send_message_length': maxMessageBytes,
    'grpc.max_receive_message_length': maxMessageBytes,
    // HTTP/2's default 64 KiB window let the server send a restore only as fast as this
    // process's event loop acknowledged it; while it wrote files, the server waited.
    'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW,
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
