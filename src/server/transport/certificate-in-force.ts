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
 * Whether one of `cas` signed the connection's client certificate, or an intermediate above it that the
 * chain proves (provenChainOf). A CA rotation leaves connections of the old CA open otherwise.
 */
export function isChainedToOneOf(socket: tls.TLSSocket, cas: readonly X509Certificate[]): boolean {
  return provenChainOf(socket, cas, Date.now()).anchor !== undefined;
}

/** How long a chain may be followed: far more than any real one, a bound against a client's loop of certificates. */
const LONGEST_CHAIN = 10;

/**
 * The client's certificate, then each issuer that signed the one below it and is in date at `now`: from the
 * certificates the client sent, up to one of `anchors` (the CAs of ssl_ca), which ends the chain. Not Node's
 * getPeerCertificate(true) links as they stand: they pair a certificate with any the client sent of the
 * issuer's name, unchecked, so an expired copy of the CA in the client's file cut every connection at once, and
 * a forged "CA" of a later date outlived the real one (found by review). Where two qualify the later-lasting one
 * is taken, as a verifier would find a path that holds.
 */
export function provenChainOf(socket: tls.TLSSocket, anchors: readonly X509Certificate[], now: number):
  { chain: X509Certificate[]; anchor: X509Certificate | undefined } {
  const [leaf, ...sent] = sentCertificatesOf(socket);
  if (leaf === undefined) return { chain: [], anchor: undefined };
  const chain = [leaf];
  const issuersOf = (certificate: X509Certificate, candidates: readonly X509Certificate[]): X509Certificate[] => candidates.filter((issuer) =>
    !chain.includes(issuer) && outOfDateReason(issuer, now) === undefined && isIssuedByOneOf(certificate, [issuer]));
  for (let current = leaf; chain.length < LONGEST_CHAIN;) {
    const anchor = latestLasting(issuersOf(current, anchors));
    if (anchor !== undefined) return { chain: [...chain, anchor], anchor };
    const next = latestLasting(issuersOf(current, sent));
    if (next === undefined) break;
    chain.push(next);
    current = next;
  }
  return { chain, anchor: undefined };
}

function latestLasting(certificates: readonly X509Certificate[]): X509Certificate | undefined {
  return certificates.reduce<X509Certificate | undefined>((latest, certificate) =>
    (latest === undefined || Date.parse(certificate.validTo) > Date.parse(latest.validTo) ? certificate : latest), undefined);
}

/** The client's certificate first, then every other one its handshake carried (Node's links, read only as a list). */
function sentCertificatesOf(socket: tls.TLSSocket): X509Certificate[] {
  const certificates: X509Certificate[] = [];
  const seen = new Set<tls.DetailedPeerCertificate>();
  for (let link: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true); link?.raw !== undefined && !seen.has(link); link = link.issuerCertificate) {
    seen.add(link);
    try {
      certificates.push(new X509Certificate(link.raw));
    } catch {
      break;
    }
  }
  return certificates;
}

/** When the first certificate of a chain (the client's first) stops being valid, and which one that is, as a log line names it. */
export function firstExpiryOf(chain: readonly X509Certificate[]): { notAfter: number; which: string } | undefined {
  if (chain.length === 0) return undefined;
  const first = chain.reduce((soonest, certificate) => (Date.parse(certificate.validTo) < Date.parse(soonest.validTo) ? certificate : soonest));
  return {
    notAfter: Date.parse(first.validTo),
    which: first === chain[0] ? 'certificate' : `certificate of its issuer ${first.subject.replaceAll('\n', ', ')}`,
  };
}

/**
 * Calls `onExpiry` with why ("certificate expired on …") when the first notAfter of the proven chain up to
 * `anchors` (ssl_ca's CAs) passes while the socket is open (the client's certificate, or a CA or intermediate
 * above it: a fresh handshake fails on either, and cpsbackup-ca issues certificates that outlive their CA; found
 * by review); nothing once it has closed. Unreferenced: an open connection's timer must not keep a stopping server up.
 */
export function atExpiry(socket: tls.TLSSocket, anchors: readonly X509Certificate[], onExpiry: (reason: string) => void): void {
  const expiry = firstExpiryOf(provenChainOf(socket, anchors, Date.now()).chain);
  if (expiry === undefined) return;
  const { notAfter, which } = expiry;
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    const left = notAfter - Date.now();
    if (left <= 0) {
      onExpiry(`${which} expired on ${new Date(notAfter).toISOString()}`);
      return;
    }
    timer = setTimeout(arm, Math.min(left, LONGEST_TIMER_MILLISECONDS)).unref();
  };
  socket.once('close', () => clearTimeout(timer));
  arm();
}
