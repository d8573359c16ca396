// Client side of the status port for `cpsbackup-server status`: GET /status from the configured
// address and port (or a given URL), with the Bearer token when server.conf sets one.
import type { ServerConfig } from '../../common/config/server-config';
import { AuthError, ConfigError, NotFoundError, ProtocolError } from '../../common/errors';
import type { StatusReport } from './status-report';

const FETCH_TIMEOUT_MS = 30_000;

/** The URL server.conf implies; a status_port of 0 has no fixed URL, so the caller must give one. */
export function configuredStatusUrl(config: ServerConfig): string {
  if (config.statusPort === 0) {
    throw new ConfigError(config.file, undefined, 'status_port = 0 picks a free port at start; pass the URL the server printed (--url)');
  }
  // A server bound to every interface is reached through loopback from the same host.
  const wildcard = config.statusAddress === '0.0.0.0' ? '127.0.0.1' : config.statusAddress === '::' ? '::1' : config.statusAddress;
  const host = wildcard.includes(':') ? `[${wildcard}]` : wildcard;
  return `http://${host}:${config.statusPort}`;
}

export async function fetchStatus(baseUrl: string, token: string | undefined): Promise<StatusReport> {
  const url = new URL('/status', baseUrl);
  let response: Response;
  try {
    response = await fetch(url, {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new NotFoundError(`no status server at ${url.origin} (${cause}); is cpsbackup-server running?`);
  }
  const body = await response.text();
  if (!response.ok) {
    let message = body;
    try {
      message = (JSON.parse(body) as { error?: string }).error ?? body;
    } catch {
      // Not our JSON: show the text as it came.
    }
    const text = `${url.href}: HTTP ${response.status}: ${message}`;
    throw response.status === 401 || response.status === 403 ? new AuthError(text) : new ProtocolError(text);
  }
  return JSON.parse(body) as StatusReport;
}
