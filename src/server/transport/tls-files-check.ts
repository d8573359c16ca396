// What a reload checks before the server's TLS files replace the ones in force: node:tls takes a CA it
// cannot parse and a revocation list of another CA without a word, and the first handshake after them
// would refuse every client. A renewal that cannot work must leave the previous files in force.
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { shownPath } from '../../common/config/display';
import { ConfigError, errorMessage } from '../../common/errors';
import type { ServerIdentity } from '../../common/tls/credentials';
import { certificateSerial } from '../../common/tls/certificate-serial';
import { caCertificates, CERTIFICATE_BLOCKS, isIssuedByOneOf, type TlsFileSettings } from '../../common/tls/ca-certificates';

/**
 * Certificate, key and CA as the nodes will judge them: a pair, in its validity period, and issued by
 * a CA of ssl_ca (the nodes trust the same file).
 */
export function checkServerIdentity(settings: TlsFileSettings, identity: ServerIdentity, now = Date.now()): void {
  const cas = caCertificates(settings, identity.ca);
  try {
    tls.createSecureContext({ cert: identity.cert, key: identity.key, ca: identity.ca, minVersion: 'TLSv1.3' });
  } catch (error) {
    throw new ConfigError(settings.file, undefined,
      `ssl_cert ${shownPath(settings.sslCert)} and ssl_key ${shownPath(settings.sslKey)} do not make a usable pair (${errorMessage(error)})`);
  }
  const certificate = new X509Certificate(identity.cert);
  if (Date.parse(certificate.validTo) <= now) {
    throw new ConfigError(settings.file, undefined, `ssl_cert: ${shownPath(settings.sslCert)} expired on ${new Date(certificate.validTo).toISOString()}`);
  }
  if (Date.parse(certificate.validFrom) > now) {
    throw new ConfigError(settings.file, undefined, `ssl_cert: ${shownPath(settings.sslCert)} is not valid before ${new Date(certificate.validFrom).toISOString()}`);
  }
  // Intermediates sent after the certificate in ssl_cert count too: the nodes get the whole chain.
  const issuers = [...cas, ...certificatesAfterTheFirst(identity.cert)];
  if (!isIssuedByOneOf(certificate, issuers)) {
    throw new ConfigError(settings.file, undefined,
      `ssl_cert: ${shownPath(settings.sslCert)} was not issued by the CA of ssl_ca ${shownPath(settings.sslCa)}: the nodes would refuse it`);
  }
}

function certificatesAfterTheFirst(pem: Buffer): X509Certificate[] {
  return (pem.toString('latin1').match(CERTIFICATE_BLOCKS) ?? []).slice(1).map((block) => new X509Certificate(block));
}

export function describeServerCertificate(settings: TlsFileSettings, identity: ServerIdentity): string {
  const certificate = new X509Certificate(identity.cert);
  return `server certificate ${shownPath(settings.sslCert)} (serial ${certificateSerial(certificate.serialNumber)}, valid until ${new Date(certificate.validTo).toISOString()})`;
}
