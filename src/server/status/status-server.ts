// The status port: GET / (dashboard), /status and /history (JSON), /metrics (Prometheus).
// node:http next to the gRPC server, or node:https with the server's certificate (status_ssl = 1);
// read-only, so it never takes the store's locks.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createSecureServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import { isLoopbackAddress } from '../../common/config/server-config';
import { ConfigError, errorMessage } from '../../common/errors';
import type { ServerContext } from '../server-context';
import { DASHBOARD_HTML } from './dashboard-page';
import { RateTracker } from './rate-tracker';
import { checkAccess } from './status-access';
import { withoutDetails } from './status-details';
import { shown } from '../../common/config/display';
import { StatusMetrics } from './status-metrics';
import { StatusSource } from './status-report';
import { readPackageVersion } from '../../common/package-version';
import type { LastCheck } from '../check-result';
import type { StoppingState } from '../running-calls';
import { serverIdentity, type ServerIdentity } from '../../common/tls/credentials';

export interface RunningStatusServer {
  readonly address: string;
  readonly port: number;
  /** http://address:port (https:// with status_ssl = 1), with IPv6 literals in brackets. */
  readonly url: string;
  readonly source: StatusSource;
  /** SIGHUP, with status_ssl = 1: the certificate the gRPC port has checked and put in force, for the next handshakes. */
  useIdentity(identity: ServerIdentity): void;
  stop(): Promise<void>;
}

const DASHBOARD_POLICY = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'";

export interface StatusServerOptions {
  /** The scheduled check's latest result, shown in /status. */
  readonly lastCheck?: () => LastCheck | undefined;
  /** Whether (and since when) the server is stopping, shown in /status and /metrics and on the page. */
  readonly stopping?: () => StoppingState | undefined;
}

export async function startStatusServer(context: ServerContext, startedAt: number, options: StatusServerOptions = {}): Promise<RunningStatusServer> {
  const { config, logger } = context;
  // server-config refuses this already; checked again here because the status port shows every client.
  if (!isLoopbackAddress(config.statusAddress) && (!config.allowRemoteStatus || config.statusToken === undefined || !config.statusSsl)) {
    throw new ConfigError(config.file, undefined, `status_address ${config.statusAddress} is not loopback; it needs allow_remote_status = 1, status_token and status_ssl = 1`);
  }
  const rates = new RateTracker(context.activity);
  const source = new StatusSource(context, { startedAt, version: readPackageVersion(), rates, lastCheck: options.lastCheck, stopping: options.stopping });
  const metrics = new StatusMetrics();

  const route = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://status.invalid');
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return send(response, 405, 'application/json', JSON.stringify({ error: 'only GET' }), { allow: 'GET, HEAD' });
    }
    // The page itself holds no data; it sends the token (from the URL's #token=) with its own requests.
    const access = checkAccess(request, config, url.pathname !== '/');
    if (!access.isAllowed) {
      const headers: Record<string, string> = access.status === 401 ? { 'www-authenticate': 'Bearer realm="cpsbackup"' } : {};
      return send(response, access.status, 'application/json', JSON.stringify({ error: access.message }), headers);
    }
    const report = async () => (access.showsDetails ? source.report() : withoutDetails(await source.report()));
    switch (url.pathname) {
      case '/':
        return send(response, 200, 'text/html; charset=utf-8', DASHBOARD_HTML, { 'content-security-policy': DASHBOARD_POLICY });
      case '/status':
        return send(response, 200, 'application/json', JSON.stringify(await report(), null, 2));
      case '/history':
        return send(response, 200, 'application/json', JSON.stringify(source.history(), null, 2));
      case '/metrics':
        return send(response, 200, metrics.contentType, await metrics.render(await report()));
      default:
        return send(response, 404, 'application/json', JSON.stringify({ error: `no such page: ${shown(url.pathname)}` }));
    }
  };

  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    route(request, response).catch((error) => {
      logger.error(`status ${request.method} ${shown(request.url ?? '')}: ${(error as Error)?.stack ?? String(error)}`);
      // The message may name the store's files: the reader learns only where to look.
      if (!response.headersSent) send(response, 500, 'application/json', JSON.stringify({ error: 'internal error (see the server log)' }));
      else response.destroy();
    });
  };
  // The gRPC port's certificate, so a remote dashboard trusting ssl_ca's CA needs no proxy. No client
  // certificate is asked for: browsers and Prometheus have none; status_token is the access rule.
  // A plain-HTTP request then fails its TLS handshake and gets no answer.
  const secureOptions = (identity: ServerIdentity): SecureContextOptions => ({ ...pickCertificate(identity), minVersion: 'TLSv1.2' });
  const secureServer = config.statusSsl ? createSecureServer(secureOptions(serverIdentity(config)), handle) : undefined;
  const server = secureServer ?? createServer(handle);
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    // A taken port or an address not on this host is the configuration's fault: one line, exit 2.
    const refuse = (error: NodeJS.ErrnoException): void => reject(error.code === 'EADDRINUSE' || error.code === 'EADDRNOTAVAIL' || error.code === 'EACCES'
      ? new ConfigError(config.file, undefined, `status_address ${shown(config.statusAddress)}, status_port ${config.statusPort}: cannot listen (${error.code})`)
      : error);
    server.once('error', refuse);
    server.listen(config.statusPort, config.statusAddress, () => {
      server.off('error', refuse);
      resolve();
    });
  });
  rates.start();
  const bound = server.address() as AddressInfo;
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  const url = `${config.statusSsl ? 'https' : 'http'}://${host}:${bound.port}`;
  logger.info(`status on ${url}`);
  return {
    address: bound.address,
    port: bound.port,
    url,
    source,
    useIdentity(identity: ServerIdentity) {
      if (secureServer === undefined) return;
      try {
        secureServer.setSecureContext(secureOptions(identity));
      } catch (error) {
        logger.error(`status port certificate not reloaded, the previous one stays in force: ${errorMessage(error)}`);
      }
    },
    async stop() {
      rates.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive connections (a dashboard left open) would hold close() forever.
        server.closeAllConnections();
      });
    },
  };
}

function pickCertificate(identity: ServerIdentity): { cert: Buffer; key: Buffer } {
  return { cert: identity.cert, key: identity.key };
}

function send(response: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}
