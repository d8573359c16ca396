// Checks the certificate, key and CA a configuration names before anything uses them: PEM that
// parses, a key that belongs to the certificate, a CA file holding CAs. Errors name the key's line.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { ConfigError } from '../errors';
import type { ConfigLine } from '../config/parse';
import { shown, shownPath } from '../config/display';
import { FileProblem, readRegularFile } from '../config/regular-file';
import { isIssuedByOneOf } from './ca-certificates';
import { expiryNotice } from './certificate-expiry';

export interface TlsFileEntry {
  /** The config line naming the file (ssl_cert = …), for the error's file:line. */
  readonly entry: ConfigLine;
  /** The resolved path. */
  readonly path: string;
}

export interface TlsFiles {
  readonly cert: TlsFileEntry;
  readonly key: TlsFileEntry;
  readonly ca: TlsFileEntry;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/** Which side of the connection the certificate is for: its extended key usage must allow that. */
export type TlsRole = 'server' | 'client';

const PURPOSES: Readonly<Record<TlsRole, { readonly oid: string; readonly give: string }>> = {
  server: { oid: '1.3.6.1.5.5.7.3.1', give: 'the server certificate (server.pem of cpsbackup-ca server)' },
  client: { oid: '1.3.6.1.5.5.7.3.2', give: 'this node\'s client certificate (clients/NAME.pem of cpsbackup-ca client NAME)' },
};
const PURPOSE_NAMES: Readonly<Record<string, string>> = { '1.3.6.1.5.5.7.3.1': 'server', '1.3.6.1.5.5.7.3.2': 'client', '2.5.29.37.0': 'any' };

/** Throws a ConfigError on the first problem that would stop TLS; returns warnings (file:line: …) for doubtful ones. */
export function checkTlsFiles(configFile: string, files: TlsFiles, role: TlsRole, now = Date.now()): string[] {
  const fail = (file: TlsFileEntry, problem: string): ConfigError =>
    new ConfigError(configFile, file.entry.line, `${file.entry.key}: ${shownPath(file.path)} ${problem}`);
  const chain = certificatesIn(files.cert, fail);
  const authorities = certificatesIn(files.ca, fail);
  const key = privateKeyIn(files.key, fail);
  const leaf = chain[0];
  if (!leaf.checkPrivateKey(key)) {
    throw fail(files.key, `is not the private key of the certificate in ${files.cert.entry.key} (${shownPath(files.cert.path)})`);
  }
  // A client certificate as a server's ssl_cert (or the reverse) loads, and every peer refuses it with
  // "unsuitable certificate purpose", which names no file: said here, at start, naming the line.
  const usages = leaf.keyUsage;
  const purpose = PURPOSES[role];
  // anyExtendedKeyUsage alone is not enough: OpenSSL's TLS purpose check refuses it too.
  if (usages !== undefined && !usages.includes(purpose.oid)) {
    const allowed = usages.map((oid) => PURPOSE_NAMES[oid] ?? oid).join(', ') || 'nothing';
    throw fail(files.cert, `is not a ${role} certificate (its extended key usage allows ${allowed} only): every peer would refuse it `
      + `("unsuitable certificate purpose"); give ${purpose.give}`);
  }
  for (const authority of authorities) {
    if (!authority.ca) {
      throw fail(files.ca, `holds a certificate that is not a CA (${shown(oneLineSubject(authority))}, basicConstraints CA:FALSE): `
        + 'give the CA certificate (ca.pem of cpsbackup-ca), not a server or client certificate');
    }
  }
  const warnings: string[] = [];
  const at = (file: TlsFileEntry): string => `${shownPath(configFile)}:${file.entry.line}: ${file.entry.key}: ${shownPath(file.path)}`;
  if (Date.parse(leaf.validTo) < now) warnings.push(`${at(files.cert)} expired on ${leaf.validTo}; peers will refuse it`);
  const leafExpiry = expiryNotice(leaf, now);
  if (leafExpiry !== undefined) warnings.push(`${at(files.cert)} ${leafExpiry}`);
  // An intermediate CA sent with the certificate ends the chain's validity as surely.
  for (const intermediate of chain.slice(1)) {
    const intermediateExpiry = expiryNotice(intermediate, now);
    if (intermediateExpiry !== undefined) warnings.push(`${at(files.cert)}: the CA ${shown(oneLineSubject(intermediate))} sent with it ${intermediateExpiry}`);
  }
  for (const authority of authorities) {
    const subject = shown(oneLineSubject(authority));
    if (Date.parse(authority.validTo) < now) {
      warnings.push(`${at(files.ca)}: the CA ${subject} expired on ${authority.validTo}; peers whose certificates it issued are refused`);
    }
    const authorityExpiry = expiryNotice(authority, now);
    if (authorityExpiry !== undefined) warnings.push(`${at(files.ca)}: the CA ${subject} ${authorityExpiry}`);
  }
  if (Date.parse(leaf.validFrom) > now) warnings.push(`${at(files.cert)} is not valid before ${leaf.validFrom}; peers will refuse it until then`);
  const issuers = [...authorities, ...chain.slice(1)];
  if (!isIssuedByOneOf(leaf, issuers)) {
    warnings.push(`${at(files.cert)} is not signed by the CA in ${files.ca.entry.key} (${shownPath(files.ca.path)}); `
      + 'a peer trusting only that CA will refuse it');
  }
  return warnings;
}

function readText(file: TlsFileEntry, fail: (file: TlsFileEntry, problem: string) => ConfigError): string {
  try {
    return readRegularFile(file.path).toString('latin1');
  } catch (error) {
    if (error instanceof FileProblem) throw fail(file, error.problem);
    throw error;
  }
}

function certificatesIn(file: TlsFileEntry, fail: (file: TlsFileEntry, problem: string) => ConfigError): X509Certificate[] {
  const text = readText(file, fail);
  const blocks = [...text.matchAll(PEM_BLOCK)];
  const certificates = blocks.filter((block) => block[1] === 'CERTIFICATE');
  if (certificates.length === 0) {
    const holdsKey = blocks.some((block) => block[1].endsWith('PRIVATE KEY'));
    throw fail(file, `is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block)${holdsKey ? '; it holds a private key: are ssl_cert and ssl_key swapped?' : ''}`);
  }
  return certificates.map((block, index) => {
    try {
      return new X509Certificate(block[0]);
    } catch (error) {
      throw fail(file, `holds a certificate (number ${index + 1}) that cannot be parsed: ${shown((error as Error).message)}`);
    }
  });
}

function privateKeyIn(file: TlsFileEntry, fail: (file: TlsFileEntry, problem: string) => ConfigError): KeyObject {
  const text = readText(file, fail);
  const blocks = [...text.matchAll(PEM_BLOCK)].map((block) => block[1]);
  if (!blocks.some((label) => label.endsWith('PRIVATE KEY'))) {
    const holdsCertificate = blocks.includes('CERTIFICATE');
    throw fail(file, `is not a PEM private key (no "-----BEGIN PRIVATE KEY-----" block)${holdsCertificate ? '; it holds a certificate: are ssl_cert and ssl_key swapped?' : ''}`);
  }
  try {
    return createPrivateKey(text);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MISSING_PASSPHRASE' || blocks.includes('ENCRYPTED PRIVATE KEY')) {
      throw fail(file, 'is an encrypted private key; the key must be unencrypted (and readable by its owner only, mode 0600)');
    }
    throw fail(file, `holds a private key that cannot be parsed: ${shown((error as Error).message)}`);
  }
}

function oneLineSubject(certificate: X509Certificate): string {
  return certificate.subject.split('\n').join(', ');
}
