// The server's own certificate and CA, looked at again once a day: a server runs for months, and the
// day its certificate expires every node's backup fails. Said at start and SIGHUP by the TLS file
// check; in the log at warn level every day of the last 30 from here.
import type { Logger } from '../common/logger';
import { expiryNotices } from '../common/tls/certificate-expiry';

const DAY_MS = 24 * 60 * 60 * 1000;

export class CertificateWatch {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly files: { readonly sslCert: string; readonly sslCa: string }, private readonly logger: Logger,
    private readonly intervalMs = DAY_MS) {}

  start(): void {
    this.timer = setInterval(() => this.look(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** A renewed certificate stops the notices, before its SIGHUP too. */
  look(now = Date.now()): string[] {
    const notices = expiryNotices(this.files, now);
    for (const notice of notices) this.logger.warn(notice);
    return notices;
  }
}
