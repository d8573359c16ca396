// What a reload checks before the server's TLS files replace the ones in force: node:tls takes a CA it
// cannot parse and a revocation list of another CA without a word, and the first handshake after them
// would refuse every client. A renewal that cannot work must leave the previous files in force.
import { X509Certificate, verify, type KeyObject } from 'node:crypto';
import tls from 'node:tls';
import { shownPath } from '../../common/config/display';
import { ConfigError, errorMessage } from '../../common/errors';
import type { ServerIdentity } from '../../common/tls/credentials';
import { normalSerial } from './crl-contents';
import type { RevocationList } from './revocation-list';

export interface TlsFileSettings {
  readonly file: string;
  readonly sslCert: string;
  readonly sslKey: string;
  readonly sslCa: string;
  readonly sslCrl: string;
}

const CERTIFICATE_BLOCKS = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The CA certificates of ssl_ca, each parsed; throws naming the file when it holds none or a damaged one. */
function caCertificates(settings: TlsFileSettings, ca: Buffer): X509Certificate[] {
  const blocks = ca.toString('latin1').match(CERTIFICATE_BLOCKS) ?? [];
  if (blocks.length === 0) throw new ConfigError(settings.file, undefined, `ssl_ca: ${shownPath(settings.sslCa)} holds no PEM certificate`);
  return blocks.map((block) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new ConfigError(settings.file, undefined, `ssl_ca: ${shownPath(settings.sslCa)} holds a certificate that cannot be read (${errorMessage(error)})`);
    }
  });
}

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
  if (!cas.some((ca) => certificate.checkIssued(ca) && certificate.verify(ca.publicKey))) {
    throw new ConfigError(settings.file, undefined,
      `ssl_cert: ${shownPath(settings.sslCert)} was not issued by the CA of ssl_ca ${shownPath(settings.sslCa)}: the nodes would refuse it`);
  }
}

/** Signature algorithms by OID (hex of the DER content) and the hash each signs with; Ed25519 hashes nothing. */
const HASH_OF_ALGORITHM: Readonly<Record<string, string | null>> = {
  '2a8648ce3d040302': 'sha256', '2a8648ce3d040303': 'sha384', '2a8648ce3d040304': 'sha512', // ecdsa-with-SHA256/384/512
  '2a864886f70d01010b': 'sha256', '2a864886f70d01010c': 'sha384', '2a864886f70d01010d': 'sha512', // sha256/384/512WithRSAEncryption
  '2b6570': null, // Ed25519
};

/**
 * A revocation list must be signed by a CA of ssl_ca: another CA's list makes OpenSSL refuse every
 * client. Names do not tell (cpsbackup-ca gives every CA the same one): the signature is checked. A
 * list signed with an algorithm not known here is left to OpenSSL.
 */
export function checkListIssuer(settings: TlsFileSettings, list: RevocationList, ca: Buffer): void {
  if (list === undefined) return;
  const keys = caCertificates(settings, ca).map((certificate) => certificate.publicKey);
  for (const { signed, algorithm, signature } of list.contents.signedLists) {
    const hash = HASH_OF_ALGORITHM[algorithm];
    if (hash === undefined) continue;
    if (!keys.some((key) => isSignedBy(hash, signed, key, signature))) {
      throw new ConfigError(settings.file, undefined,
        `ssl_crl: ${shownPath(settings.sslCrl)} was not issued by the CA of ssl_ca ${shownPath(settings.sslCa)}: write it anew with cpsbackup-ca crl`);
    }
  }
}

function isSignedBy(hash: string | null, signed: Buffer, key: KeyObject, signature: Buffer): boolean {
  try {
    return verify(hash, signed, key, signature);
  } catch {
    return false; // a key of another type than the signature's
  }
}

export function describeServerCertificate(settings: TlsFileSettings, identity: ServerIdentity): string {
  const certificate = new X509Certificate(identity.cert);
  return `server certificate ${shownPath(settings.sslCert)} (serial ${normalSerial(certificate.serialNumber)}, valid until ${new Date(certificate.validTo).toISOString()})`;
}
