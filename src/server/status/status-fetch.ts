// Client side of the status port for `cpsbackup-server status`: GET /status from the configured
// address and port (or a given URL), with the Bearer token when server.conf sets one; over HTTPS
// (status_ssl = 1) it trusts only server.conf's ssl_ca.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isLoopbackAddress, type ServerConfig } from '../../common/config/server-config';
import { AuthError, ConfigError, NotFoundError, ProtocolError } from '../../common/errors';
import type { StatusReport } from './status-report';

const FETCH_TIMEOUT_MS = 30_000;
/** A status report is a few KiB per client; anything far larger is not one. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** The URL server.conf implies; a status_port of 0 has no fixed URL, so the caller must give one. */
export function configuredStatusUrl(config: ServerConfig): string {
  if (config.statusPort === 0) {
    throw new ConfigError(config.file, undefined, 'status_port = 0 picks a free port at start; pass the URL the server printed (--url)');
  }
  // A server bound to every interface is reached through loopback from the same host.
  const wildcard = config.statusAddress === '0.0.0.0' ? '127.0.0.1' : config.statusAddress === '::' ? '::1' : config.statusAddress;
  const host = wildcard.includes(':') ? `[${wildcard}]` : wildcard;
  return `${config.statusSsl ? 'https' : 'http'}://${host}:${config.statusPort}`;
}

export interface StatusFetchOptions {
  readonly token: string | undefined;
  /** PEM of the CA an https:// status port's certificate must chain to (server.conf's ssl_ca). */
  readonly ca?: Buffer;
}

export async function fetchStatus(baseUrl: string, options: StatusFetchOptions): Promise<StatusReport> {
  const url = new URL('/status', baseUrl);
  // The server refuses a remote port without status_ssl; the token must not leave this host in clear either way.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (options.token !== undefined && url.protocol === 'http:' && !isLoopbackAddress(host)) {
    throw new AuthError(`${url.origin}: status_token is not sent over plain HTTP to another host; use https:// (status_ssl = 1 on the server)`);
  }
  let response: { status: number; body: string };
  try {
    response = await get(url, options);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    if (/CERT|SIGNATURE|ERR_TLS|ALTNAME/.test(code)) {
      throw new ProtocolError(`status server at ${url.origin}: its TLS certificate is not accepted (${code}: ${(error as Error).message}); `
        + 'it must be signed by server.conf\'s ssl_ca and name the host of the URL');
    }
    const hint = url.protocol === 'http:' && code === 'ECONNRESET' ? '; if the server has status_ssl = 1, use https://' : '';
    throw new NotFoundError(`no status server at ${url.origin} (${code})${hint}; is cpsbackup-server running?`);
  }
  if (response.status < 200 || response.status > 299) {
    let message = response.body;
    try {
      message = (JSON.parse(response.body) as { error?: string }).error ?? response.body;
    } catch {
      // Not our JSON: show the text as it came.
    }
    const text = `${url.href}: HTTP ${response.status}: ${message}`;
    throw response.status === 401 || response.status === 403 ? new AuthError(text) : new ProtocolError(text);
  }
  return JSON.parse(response.body) as StatusReport;
}

/** node:http(s) rather than fetch(): fetch cannot be told which CA to trust without a dispatcher package. */
function get(url: URL, options: StatusFetchOptions): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = options.token === undefined ? {} : { authorization: `Bearer ${options.token}` };
    const onResponse = (response: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          response.destroy(new Error(`the answer is larger than ${MAX_BODY_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      response.on('error', reject);
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    };
    const call = url.protocol === 'https:'
      ? httpsRequest(url, { headers, ca: options.ca, minVersion: 'TLSv1.2', timeout: FETCH_TIMEOUT_MS }, onResponse)
      : httpRequest(url, { headers, timeout: FETCH_TIMEOUT_MS }, onResponse);
    call.on('timeout', () => call.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    call.on('error', reject);
    call.end();
  });
}
