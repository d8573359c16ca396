// The backup CA: creates it, and issues EC P-256 server and client certificates signed by it.
// Drives the openssl CLI; keys go straight to 0600 files and nothing existing is ever overwritten.
// Every certificate, client and server, is recorded in issued/ before it is handed out (ca-record.ts).
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { ConfigError, errorMessage } from '../common/errors';
import { isValidClientName } from '../common/config/client-record';
import { ignoredRecordReason } from '../common/config/ignored-record-names';
import { caFiles, openssl, requireAuthority, withWorkFolder, type CertificateAuthorityFiles } from './ca-authority';
import { withCaLock, type CaLockWait } from './ca-lock';
import type { CertificateSerial } from '../common/tls/certificate-serial';
import { beginCompleteRecord, forgetIssued, issuedFolder, recordIssued, type IssuedCertificate } from './ca-record';
import { findClientCertificates, revoke, revokedCopyFile, revokedServerCopy, type Revocation } from './ca-revoke';

export { caFiles, requireAuthority, type CertificateAuthorityFiles } from './ca-authority';

export interface IssuedFiles {
  readonly cert: string;
  readonly key: string;
}

export interface IssuedServerFiles extends IssuedFiles {
  readonly serial: CertificateSerial;
  /** Where a revoked server.pem this replaced went (its key deleted); undefined when there was none. */
  readonly replacedRevoked?: string;
}

export interface IssuedClientFiles extends IssuedServerFiles {
  /** What --replace revoked; undefined without it. */
  readonly replaced: Revocation | undefined;
}

const dayInMilliseconds = 24 * 3600 * 1000;
// A certificate that starts "now" fails on a peer whose clock is a little behind.
const clockSkewMilliseconds = 3600 * 1000;
const hostNamePattern = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export async function initCertificateAuthority(
  directory: string,
  options: { commonName?: string; days?: number; lock?: CaLockWait } = {},
): Promise<CertificateAuthorityFiles> {
  const commonName = options.commonName ?? 'cpsbackup CA';
  if (!/^[\x20-\x7e]{1,64}$/.test(commonName) || commonName.trim() !== commonName) {
    throw new ConfigError(directory, undefined, `CA common name must be 1 to 64 printable ASCII characters, got "${commonName}"`);
  }
  const days = checkDays(options.days ?? 3650);
  const folder = path.resolve(directory);
  const files = caFiles(folder);
  // Another CA's record left in the folder would have this one revoke serials it never issued.
  refuseExisting([files.caCert, files.caKey, issuedFolder(folder)]);
  await mkdir(folder, { recursive: true });
  // Checked again under the lock: another init may have made a CA here since.
  return withCaLock(folder, () => withWorkFolder(async (work) => {
    refuseExisting([files.caCert, files.caKey, issuedFolder(folder)]);
    const key = await generateKey();
    const keyFile = path.join(work, 'ca.key');
    await writeFile(keyFile, key, { mode: 0o600 });
    await writeFile(path.join(work, 'req.cnf'), caRequestConfig);
    const cert = await openssl(['req', '-new', '-x509', '-config', 'req.cnf', '-key', keyFile,
      '-subj', subject(commonName), '-days', String(days), '-sha256'], work);
    await writeOutputs(files.caKey, key, files.caCert, cert);
    await beginCompleteRecord(folder);
    return files;
  }), options.lock);
}

/**
 * Recorded in issued/ like a client's (ca-record.ts tells them apart by extended key usage), so a server
 * certificate whose files went to the server can still be listed and revoked.
 */
export async function issueServerCertificate(
  directory: string,
  name: string,
  options: { hosts?: string[]; days?: number; lock?: CaLockWait } = {},
): Promise<IssuedServerFiles> {
  if (!hostNamePattern.test(name)) {
    throw new ConfigError(directory, undefined, `server name must be a DNS name, got "${name}"`);
  }
  const alternativeNames = [`DNS:${name}`, 'DNS:localhost', 'IP:127.0.0.1'];
  for (const host of options.hosts ?? []) {
    const entry = isIP(host) !== 0 ? `IP:${host}` : hostNamePattern.test(host) ? `DNS:${host}` : undefined;
    if (entry === undefined) throw new ConfigError(directory, undefined, `host must be a DNS name or an IP address, got "${host}"`);
    if (!alternativeNames.includes(entry)) alternativeNames.push(entry);
  }
  const folder = path.resolve(directory);
  const notBefore = new Date(Date.now() - clockSkewMilliseconds);
  const notAfter = new Date(Date.now() + checkDays(options.days ?? 825) * dayInMilliseconds);
  const authority = requireAuthority(folder);
  return withCaLock(folder, async () => {
    const outputs = { cert: path.join(folder, 'server.pem'), key: path.join(folder, 'server.key') };
    // A revoked server.pem stays in place (a server may run from it) until this replaces it.
    const revoked = await revokedServerCopy(folder, authority);
    if (revoked === undefined) refuseExisting([outputs.cert, outputs.key]);
    const signed = await sign(authority, name, serverExtensions(alternativeNames), notBefore, notAfter);
    const record = await recordIssued(folder, signed.cert);
    const setAside = revoked === undefined ? undefined : { cert: revokedCopyFile(folder, revoked), key: `${revokedCopyFile(folder, revoked)}.key` };
    try {
      if (setAside !== undefined) await movePair(outputs, setAside);
      await writeOutputs(outputs.key, signed.key, outputs.cert, signed.cert);
    } catch (error) {
      // The revoked pair goes back, so a server running from it still starts as before.
      if (setAside !== undefined) await movePair(setAside, outputs).catch(() => undefined);
      return forgetAfterFailure(record, error);
    }
    // The key of a revoked certificate is worthless to its owner and useful to a thief.
    if (setAside !== undefined) await unlink(setAside.key).catch(() => undefined);
    return { ...outputs, serial: record.serial, replacedRevoked: setAside?.cert };
  }, options.lock);
}

/**
 * Refused while NAME has a certificate that still works (unrevoked and unexpired in the record, or
 * clients/NAME.pem present) unless `replace`. Then, in this order: the new certificate is signed and
 * recorded, the old ones are revoked (index, crl.pem, their copies moved aside), and only then are the
 * new files written. So the new one is never handed out while an old one is unrevoked, and some
 * certificate for NAME is on record throughout. Any failure makes the record forget the new one (it was
 * handed to no one); one after the revocation leaves the old ones revoked, and says so: `client NAME`
 * again. notAfter in the past is allowed on purpose: tests need expired certificates.
 */
export async function issueClientCertificate(
  directory: string,
  commonName: string,
  options: { days?: number; notAfter?: Date; notBefore?: Date; replace?: boolean; lock?: CaLockWait } = {},
): Promise<IssuedClientFiles> {
  if (!isValidClientName(commonName)) {
    throw new ConfigError(directory, undefined,
      `"${commonName}" is not a valid client name (letters, digits, '.', '_', '-'; at most 64; no leading '.')`);
  }
  // The record <clientconfdir>/NAME the server needs would be skipped there as a leftover, and the client refused.
  const ignoredAs = ignoredRecordReason(commonName);
  if (ignoredAs !== undefined) {
    throw new ConfigError(directory, undefined, `"${commonName}" cannot be a client name: the server skips a file of that name in its clients `
      + `folder (clientconfdir) as ${ignoredAs}, so the client's record would never be read and the client refused; choose another name`);
  }
  const folder = path.resolve(directory);
  const notBefore = options.notBefore ?? new Date(Date.now() - clockSkewMilliseconds);
  const notAfter = options.notAfter ?? new Date(Date.now() + checkDays(options.days ?? 825) * dayInMilliseconds);
  if (!(notBefore.getTime() < notAfter.getTime())) {
    throw new ConfigError(directory, undefined, 'notBefore must be earlier than notAfter');
  }
  const authority = requireAuthority(folder);
  return withCaLock(folder, async () => {
    const outputs = { cert: path.join(folder, 'clients', `${commonName}.pem`), key: path.join(folder, 'clients', `${commonName}.key`) };
    const isReplacing = options.replace === true;
    if (!isReplacing) refuseExisting([outputs.cert, outputs.key], 'revoke it first, or give --replace to revoke it and issue a new one');
    if (isReplacing && !existsSync(outputs.cert) && existsSync(outputs.key)) {
      // Checked now, not after the old ones are revoked: the new files could not be written then.
      throw new ConfigError(outputs.key, undefined, 'is a key without its certificate: move it aside first');
    }
    const old = await findClientCertificates(folder, authority, commonName);
    if (!isReplacing && old.targets.length > 0) {
      throw new ConfigError(folder, undefined, `${commonName} has a certificate that is not revoked `
        + `(serial ${old.targets.map((entry) => entry.serial).join(', ')}): give --replace to revoke it and issue a new one in one step, or revoke it first`);
    }
    await mkdir(path.join(folder, 'clients'), { recursive: true });
    const signed = await sign(authority, commonName, clientExtensions, notBefore, notAfter);
    const record = await recordIssued(folder, signed.cert);
    let replaced: Revocation | undefined;
    try {
      if (isReplacing) replaced = await revoke(folder, authority, old.targets, commonName);
      refuseExisting([outputs.cert, outputs.key], 'clients/ keeps a copy this CA did not revoke');
      // Inside the undo too: a record kept for files that were never written named a certificate nobody
      // holds, and `client NAME` then refused NAME for it.
      await writeOutputs(outputs.key, signed.key, outputs.cert, signed.cert);
    } catch (error) {
      const told = replaced === undefined || replaced.revoked.length === 0 ? error : new Error(`${errorMessage(error)}; the certificates of `
        + `${commonName} it was to replace are revoked (${replaced.crl} written): issue a new one with cpsbackup-ca client`, { cause: error });
      return forgetAfterFailure(record, told);
    }
    return { ...outputs, serial: record.serial, replaced };
  }, options.lock);
}

/** A new key and a certificate for it, in a throw-away folder; nothing is written to the CA folder. */
async function sign(
  authority: CertificateAuthorityFiles,
  commonName: string,
  extensions: string,
  notBefore: Date,
  notAfter: Date,
): Promise<{ key: string; cert: string }> {
  return withWorkFolder(async (work) => {
    const key = await generateKey();
    const keyFile = path.join(work, 'leaf.key');
    await writeFile(keyFile, key, { mode: 0o600 });
    await writeFile(path.join(work, 'req.cnf'), leafRequestConfig);
    await openssl(['req', '-new', '-config', 'req.cnf', '-key', keyFile, '-subj', subject(commonName), '-out', 'leaf.csr'], work);
    // `openssl ca` rather than `x509 -req`: only it sets arbitrary start and end dates in 3.0.
    // Its database is throw-away (serials are random): issued/ is the record, revoked/index.txt the revocations.
    await writeFile(path.join(work, 'index.txt'), '');
    await writeFile(path.join(work, 'ca.cnf'), signingConfig + extensions);
    await openssl(['ca', '-batch', '-config', 'ca.cnf', '-cert', authority.caCert, '-keyfile', authority.caKey,
      '-in', 'leaf.csr', '-out', 'leaf.pem', '-notext',
      '-startdate', opensslTime(notBefore), '-enddate', opensslTime(notAfter)], work);
    return { key, cert: await readFile(path.join(work, 'leaf.pem'), 'utf8') };
  });
}

async function generateKey(): Promise<string> {
  return openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']);
}

/**
 * Undoes the record of a certificate whose files were not written: its key never left this process, so it
 * serves no one, and the CA must not believe in it. Throws `error`; if the record cannot be undone either,
 * an error that says so and what to do, never a record left behind in silence.
 */
async function forgetAfterFailure(record: IssuedCertificate, error: unknown): Promise<never> {
  try {
    await forgetIssued(record);
  } catch (forgetError) {
    throw new Error(`${errorMessage(error)}; and the record of the certificate that was not handed out, ${record.file}, could not be `
      + `removed (${errorMessage(forgetError)}): remove it, or revoke it with cpsbackup-ca revoke --serial ${record.serial}`, { cause: error });
  }
  throw error;
}

/** A certificate and its key renamed together; a missing key (a server.pem alone) is no error. */
async function movePair(from: IssuedFiles, to: IssuedFiles): Promise<void> {
  await rename(from.cert, to.cert);
  await rename(from.key, to.key).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

/** Key first, created 0600 and exclusively; if the certificate cannot follow, the key goes too. */
async function writeOutputs(keyFile: string, key: string, certFile: string, cert: string): Promise<void> {
  await writeExclusive(keyFile, key, 0o600);
  try {
    await writeExclusive(certFile, cert, 0o644);
  } catch (error) {
    await unlink(keyFile).catch(() => undefined);
    throw error;
  }
}

async function writeExclusive(file: string, text: string, mode: number): Promise<void> {
  try {
    await writeFile(file, text, { flag: 'wx', mode });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new ConfigError(file, undefined, 'already exists; refusing to overwrite');
    }
    throw error;
  }
}

function refuseExisting(files: string[], remedy?: string): void {
  for (const file of files) {
    if (existsSync(file)) throw new ConfigError(file, undefined, `already exists; refusing to overwrite${remedy === undefined ? '' : ` (${remedy})`}`);
  }
}

function checkDays(days: number): number {
  if (!Number.isInteger(days) || days < 1 || days > 100 * 365) {
    throw new ConfigError('days', undefined, `must be an integer between 1 and 36500, got ${days}`);
  }
  return days;
}

/** openssl's -subj treats '/' and '+' as separators; the backslash escapes them. */
function subject(commonName: string): string {
  return `/CN=${commonName.replace(/[\\/+]/g, (character) => `\\${character}`)}`;
}

/** GeneralizedTime, which `openssl ca` accepts and turns into UTCTime before 2050 as RFC 5280 asks. */
function opensslTime(date: Date): string {
  return `${date.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

const caRequestConfig = `[req]
distinguished_name = dn
x509_extensions = ca_extensions
[dn]
[ca_extensions]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
`;

const leafRequestConfig = `[req]
distinguished_name = dn
[dn]
`;

const signingConfig = `[ca]
default_ca = issuer
[issuer]
database = index.txt
new_certs_dir = .
rand_serial = yes
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
x509_extensions = leaf_extensions
[policy_any]
commonName = supplied
`;

const clientExtensions = `[leaf_extensions]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
`;

function serverExtensions(alternativeNames: string[]): string {
  return `[leaf_extensions]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
subjectAltName = ${alternativeNames.join(',')}
`;
}
