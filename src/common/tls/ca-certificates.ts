// The CA certificates of an ssl_ca file, and whether a revocation list is one OpenSSL can use for them:
// shared by the server's checks of its TLS files (server/transport) and a node's ssl_crl (node-revocation-list.ts).
import { X509Certificate, verify, type KeyObject } from 'node:crypto';
import { shownPath } from '../config/display';
import { ConfigError, errorMessage } from '../errors';
import { subjectNameOf, type CrlContents } from './crl-contents';

export interface TlsFileSettings {
  readonly file: string;
  readonly sslCert: string;
  readonly sslKey: string;
  readonly sslCa: string;
  readonly sslCrl: string;
}

export const CERTIFICATE_BLOCKS = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The CA certificates of ssl_ca, each parsed; throws naming the file when it holds none or a damaged one. */
export function caCertificates(settings: TlsFileSettings, ca: Buffer): X509Certificate[] {
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

/** Whether one of `issuers` issued and signed the certificate (names matched and the signature checked). */
export function isIssuedByOneOf(certificate: X509Certificate, issuers: readonly X509Certificate[]): boolean {
  return issuers.some((issuer) => certificate.checkIssued(issuer) && certificate.verify(issuer.publicKey));
}

/** Signature algorithms by OID (hex of the DER content) and the hash each signs with; Ed25519 hashes nothing. */
const HASH_OF_ALGORITHM: Readonly<Record<string, string | null>> = {
  '2a8648ce3d040302': 'sha256', '2a8648ce3d040303': 'sha384', '2a8648ce3d040304': 'sha512', // ecdsa-with-SHA256/384/512
  '2a864886f70d01010b': 'sha256', '2a864886f70d01010c': 'sha384', '2a864886f70d01010d': 'sha512', // sha256/384/512WithRSAEncryption
  '2b6570': null, // Ed25519
};

/**
 * A revocation list must be one OpenSSL can use for ssl_ca's CAs: it picks a CA's list by the issuer's
 * name and, finding none, or one whose signature fails, refuses every client that CA issued. Names do
 * not tell the lists apart (cpsbackup-ca gives every CA the same one), so each list naming a CA of
 * ssl_ca must verify with the key of one of them, and at least one list must name one. Lists of other
 * CAs (another name) in the same file are left alone, as OpenSSL leaves them. A list signed with an
 * algorithm not known here is left to OpenSSL.
 */
export function checkListIssuer(settings: TlsFileSettings, list: { readonly contents: CrlContents } | undefined, ca: Buffer): void {
  if (list === undefined) return;
  const authorities = caCertificates(settings, ca).map((certificate) => ({ name: subjectNameOf(certificate.raw), key: certificate.publicKey }));
  const refuse = (problem: string): ConfigError => new ConfigError(settings.file, undefined,
    `ssl_crl: ${shownPath(settings.sslCrl)} ${problem} the CA of ssl_ca ${shownPath(settings.sslCa)}: write it anew with cpsbackup-ca crl`);
  let isAnyListOfTheseCas = false;
  for (const { signed, algorithm, signature, issuer } of list.contents.signedLists) {
    const namesakes = authorities.filter((authority) => authority.name.equals(issuer));
    if (namesakes.length === 0) continue;
    isAnyListOfTheseCas = true;
    const hash = HASH_OF_ALGORITHM[algorithm];
    if (hash === undefined) continue;
    if (!namesakes.some(({ key }) => isSignedBy(hash, signed, key, signature))) throw refuse('was not issued by');
  }
  if (!isAnyListOfTheseCas) throw refuse('holds no list of');
}

function isSignedBy(hash: string | null, signed: Buffer, key: KeyObject, signature: Buffer): boolean {
  try {
    return verify(hash, signed, key, signature);
  } catch {
    return false; // a key of another type than the signature's
  }
}
