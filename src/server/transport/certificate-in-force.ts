// Whether a client certificate accepted earlier would still pass a fresh handshake now: its dates hold, and a CA
// of the ssl_ca in force signed it. OpenSSL judges both once, at the handshake; a connection lasts as long as its client keeps it.
import { X509Certificate } from 'node:crypto';
import type tls from 'node:tls';
import { CERTIFICATE_BLOCKS, isIssuedByOneOf } from '../../common/tls/ca-certificates';

/** setTimeout's longest delay (about 24.8 days); a certificate lives for years, so its timer is re-armed in steps. */
const LONGEST_TIMER_MILLISECONDS = 2 ** 31 - 1;

/** Why the certificate's dates do not hold at `now` ("expired on …", "not valid before …"), or undefined when they do. */
export function outOfDateReason(certificate: X509Certificate, now: number): string | undefined {
  const notAfter = Date.parse(certificate.validTo);
  if (notAfter <= now) return `certificate expired on ${new Date(notAfter).toISOString()}`;
  const notBefore = Date.parse(certificate.validFrom);
  if (notBefore > now) return `certificate not valid before ${new Date(notBefore).toISOString()}`;
  return undefined;
}

/** The CA certificates of an ssl_ca file; an unreadable block is left out (a reload has checked the file before it is in force). */
export function caCertificatesOf(caPem: Buffer): X509Certificate[] {
  const certificates: X509Certificate[] = [];
  for (const block of caPem.toString('latin1').match(CERTIFICATE_BLOCKS) ?? []) {
    try {
      certificates.push(new X509Certificate(block));
    } catch {
      // node:tls skips it the same way.
    }
  }
  return certificates;
}

/**
 * Whether one of `cas` signed the connection's client certificate, or an intermediate of the chain its handshake
 * verified (the links below it were checked then). A CA rotation leaves connections of the old CA open otherwise.
 */
export function isChainedToOneOf(socket: tls.TLSSocket, cas: readonly X509Certificate[]): boolean {
  for (const certificate of verifiedChainOf(socket)) {
    if (isIssuedByOneOf(certificate, cas)) return true;
  }
  return false;
}

/** The client's certificate first, then its issuers as the handshake found them (Node ends the chain with a self-signed CA pointing at itself). */
function verifiedChainOf(socket: tls.TLSSocket): X509Certificate[] {
  const chain: X509Certificate[] = [];
  const seen = new Set<tls.DetailedPeerCertificate>();
  for (let link: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true); link?.raw !== undefined && !seen.has(link); link = link.issuerCertificate) {
    seen.add(link);
    try {
      chain.push(new X509Certificate(link.raw));
    } catch {
      break;
    }
  }
  return chain;
}

/**
 * Calls `onExpiry` with why ("certificate expired on …") when the client certificate's notAfter passes while the
 * socket is open; nothing once it has closed. Unreferenced: an open connection's timer must not keep a stopping server up.
 */
export function atExpiry(socket: tls.TLSSocket, onExpiry: (reason: string) => void): void {
  const certificate = socket.getPeerX509Certificate();
  if (certificate === undefined) return;
  const notAfter = Date.parse(certificate.validTo);
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    const now = Date.now();
    const left = notAfter - now;
    if (left <= 0) {
      onExpiry(outOfDateReason(certificate, now)!); // notAfter has passed: the reason says expired
      return;
    }
    timer = setTimeout(arm, Math.min(left, LONGEST_TIMER_MILLISECONDS)).unref();
  };
  socket.once('close', () => clearTimeout(timer));
  arm();
}
