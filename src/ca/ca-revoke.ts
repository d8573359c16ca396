// Revokes certificates: every client one ever issued for a name (the record in issued/ and
// clients/NAME.pem), or any one, client or server, by serial or given as a file; then rewrites crl.pem.
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, NotFoundError } from '../common/errors';
import { isValidClientName } from '../common/config/client-record';
import { commonNameOf, readCertificateOfAuthority, requireAuthority, type CertificateAuthorityFiles } from './ca-authority';
import { withCaLock, type CaLockWait } from './ca-lock';
import { coverageNote, issuedCertificates, issuedFolder, recordCoverage, recordIssued, type CertificateKind } from './ca-record';
import { addRevocations, crlFile, revocationDatabase, revokedSerials, writeRevocationList, type RevocationEntry } from './ca-revocation-index';
import { certificateSerial, parseCertificateSerial, type CertificateSerial } from '../common/tls/certificate-serial';

export interface RevokedCertificate extends RevocationEntry {
  /** From the record; undefined for a serial revoked as given. */
  readonly kind: CertificateKind | undefined;
  /** Where the CA folder's copy of a client certificate (clients/NAME.pem) went, its key deleted; undefined when it held none. */
  readonly movedTo: string | undefined;
  /**
   * server.pem when it is this certificate: left in place with server.key, since a server running from
   * them could not start again without them; `cpsbackup-ca server` replaces the pair. Undefined otherwise.
   */
  readonly keptAt: string | undefined;
  /** False for a serial revoked as given: neither the record nor the CA folder holds its certificate. */
  readonly isKnown: boolean;
}

export interface Revocation {
  readonly revoked: readonly RevokedCertificate[];
  readonly crl: string;
  /** Serials crl.pem now lists. */
  readonly listedCount: number;
  /** Set when the record of issued certificates does not go back to the CA's creation. */
  readonly note: string | undefined;
}

/** What "revoke NAME" covers: certificates that still work (unrevoked, unexpired), and the CA folder's copy whatever its state. */
export interface ClientCertificates {
  readonly commonName: string;
  readonly targets: readonly RevocationEntry[];
}

export async function revokeClientCertificate(directory: string, commonName: string, lock?: CaLockWait): Promise<Revocation> {
  const folder = path.resolve(directory);
  const authority = requireAuthority(folder);
  return withCaLock(folder, async () => {
    const found = await findClientCertificates(folder, authority, commonName);
    if (found.targets.length === 0) {
      const caughtUp = await catchUpRevocationList(folder, authority);
      if (caughtUp !== undefined) return caughtUp;
      const note = coverageNote(await recordCoverage(folder), commonName);
      throw new NotFoundError(`no certificate ${clientCertificateFile(folder, commonName)} to revoke, and none for ${commonName} in `
        + `${issuedFolder(folder)} is unrevoked and unexpired (revoked ones are in ${revocationDatabase(folder).folder})${note === undefined ? '' : `; ${note}`}`);
    }
    return revoke(folder, authority, found.targets, commonName);
  }, lock);
}

/** Finds what revoking `commonName` revokes; the CA folder's copy is recorded first if the record lacks it. The caller holds the CA lock. */
export async function findClientCertificates(folder: string, authority: CertificateAuthorityFiles, commonName: string): Promise<ClientCertificates> {
  if (!isValidClientName(commonName)) throw new ConfigError(folder, undefined, `"${commonName}" is not a valid client name`);
  const isRevoked = new Set(await revokedSerials(folder));
  const recorded = await issuedCertificates(folder);
  const now = Date.now();
  // A server certificate of the same CN is not this client's: revoking it would take the server down.
  const targets: RevocationEntry[] = recorded
    .filter((entry) => entry.kind === 'client' && entry.commonName === commonName && !isRevoked.has(entry.serial) && entry.notAfter.getTime() > now)
    .map(({ serial, notAfter }) => ({ serial, commonName, notAfter }));
  const file = clientCertificateFile(folder, commonName);
  if (existsSync(file)) {
    const certificate = await readCertificateOfAuthority(file, authority);
    const serial = certificateSerial(certificate.serialNumber);
    if (!recorded.some((entry) => entry.serial === serial)) await recordIssued(folder, certificate.toString());
    if (!targets.some((entry) => entry.serial === serial)) targets.push({ serial, commonName, notAfter: new Date(certificate.validTo) });
  }
  return { commonName, targets };
}

/** `hex` as openssl, node or a browser print it (any case, colons, 0x). */
export async function revokeSerial(directory: string, hex: string, lock?: CaLockWait): Promise<Revocation> {
  const folder = path.resolve(directory);
  const authority = requireAuthority(folder);
  const serial = parseCertificateSerial(hex);
  // RFC 5280: at most 20 octets.
  if (serial === undefined || serial.length > 40) throw new ConfigError('--serial', undefined, `expected a serial number in hex, got "${hex}"`);
  return withCaLock(folder, () => revokeSerialHeld(folder, authority, serial), lock);
}

async function revokeSerialHeld(folder: string, authority: CertificateAuthorityFiles, serial: CertificateSerial): Promise<Revocation> {
  const already = await alreadyRevoked(folder, authority, serial, `serial ${serial}`);
  if (already !== undefined) return already;
  const recorded = (await issuedCertificates(folder)).find((entry) => entry.serial === serial);
  if (recorded !== undefined) return revoke(folder, authority, [{ serial, commonName: recorded.commonName, notAfter: recorded.notAfter }]);
  // Server certificates were recorded only from a later cpsbackup-ca on, even in a record complete for clients.
  const serverCopy = await readCertificateOfAuthority(serverCertificateFile(folder), authority).catch(() => undefined);
  if (serverCopy !== undefined && certificateSerial(serverCopy.serialNumber) === serial) {
    await recordIssued(folder, serverCopy.toString());
    return revoke(folder, authority, [{ serial, commonName: commonNameOf(serverCopy), notAfter: new Date(serverCopy.validTo) }]);
  }
  const coverage = await recordCoverage(folder);
  if (coverage.isComplete) {
    throw new NotFoundError(`serial ${serial} is not in ${issuedFolder(folder)}, which holds every client certificate this CA issued and every `
      + 'server certificate since cpsbackup-ca records them: check the serial (an older server certificate: revoke --cert FILE)');
  }
  // Issued before the record: its copy may still be in clients/; otherwise it is revoked as given.
  const copy = await clientCopyWithSerial(folder, authority, serial);
  if (copy !== undefined) await recordIssued(folder, copy.toString());
  const target = copy === undefined ? { serial, commonName: undefined, notAfter: undefined }
    : { serial, commonName: commonNameOf(copy), notAfter: new Date(copy.validTo) };
  return revoke(folder, authority, [target]);
}

/** A certificate from anywhere (a node's copy, a mail): revoked only if this CA signed it, and recorded if the record lacks it. */
export async function revokeCertificateFile(directory: string, file: string, lock?: CaLockWait): Promise<Revocation> {
  const folder = path.resolve(directory);
  const authority = requireAuthority(folder);
  const certificate = await readCertificateOfAuthority(path.resolve(file), authority);
  const serial = certificateSerial(certificate.serialNumber);
  return withCaLock(folder, async () => {
    const already = await alreadyRevoked(folder, authority, serial, `${file} (serial ${serial})`);
    if (already !== undefined) return already;
    if (!(await issuedCertificates(folder)).some((entry) => entry.serial === serial)) await recordIssued(folder, certificate.toString());
    return revoke(folder, authority, [{ serial, commonName: commonNameOf(certificate), notAfter: new Date(certificate.validTo) }]);
  }, lock);
}

/** `cpsbackup-ca crl`: crl.pem written again from the index (renewing its validity), under the CA lock. */
export async function renewRevocationList(directory: string, lock?: CaLockWait): Promise<{ crl: string; listedCount: number }> {
  const folder = path.resolve(directory);
  const authority = requireAuthority(folder);
  return withCaLock(folder, async () => ({ crl: await writeRevocationList(folder, authority), listedCount: (await revokedSerials(folder)).length }), lock);
}

/**
 * The index first (durably), then crl.pem, then the CA folder's client copies moved to revoked/ with
 * their keys deleted, so a name is free again only once its certificates are revoked; server.pem and
 * server.key stay until `cpsbackup-ca server` replaces them. The caller holds the CA lock.
 */
export async function revoke(folder: string, authority: CertificateAuthorityFiles, targets: readonly RevocationEntry[], namedClient?: string): Promise<Revocation> {
  await addRevocations(folder, targets);
  const crl = await writeRevocationList(folder, authority);
  const kinds = new Map((await issuedCertificates(folder)).map((entry) => [entry.serial, entry.kind]));
  const revoked: RevokedCertificate[] = [];
  for (const target of targets) {
    const keptAt = await isServerCopy(folder, authority, target.serial) ? serverCertificateFile(folder) : undefined;
    const movedTo = keptAt === undefined ? await moveAsideIfClientCopy(folder, authority, target) : undefined;
    revoked.push({ ...target, kind: kinds.get(target.serial), movedTo, keptAt, isKnown: target.notAfter !== undefined });
  }
  const note = namedClient === undefined ? undefined : coverageNote(await recordCoverage(folder), namedClient);
  return { revoked, crl, listedCount: (await revokedSerials(folder)).length, note };
}

export function clientCertificateFile(folder: string, commonName: string): string {
  return path.join(folder, 'clients', `${commonName}.pem`);
}

export function serverCertificateFile(folder: string): string {
  return path.join(folder, 'server.pem');
}

/** For a serial already in the index: crl.pem caught up if it was behind, else a refusal (nothing to do). */
async function alreadyRevoked(folder: string, authority: CertificateAuthorityFiles, serial: CertificateSerial, what: string): Promise<Revocation | undefined> {
  if (!(await revokedSerials(folder)).includes(serial)) return undefined;
  const caughtUp = await catchUpRevocationList(folder, authority);
  if (caughtUp !== undefined) return caughtUp;
  throw new NotFoundError(`${what} is already revoked: nothing to do`);
}

/**
 * crl.pem older than the index it is written from: a revocation was recorded, then its list was not
 * written (openssl failed, the command was cut short). Its serials are in the index, so a retry found
 * nothing to revoke while the server went on accepting them. Written again; undefined when current.
 */
async function catchUpRevocationList(folder: string, authority: CertificateAuthorityFiles): Promise<Revocation | undefined> {
  const { index } = revocationDatabase(folder);
  const indexTime = await stat(index).then((found) => found.mtimeMs, () => undefined);
  const crlTime = await stat(crlFile(folder)).then((found) => found.mtimeMs, () => Number.NEGATIVE_INFINITY);
  if (indexTime === undefined || crlTime >= indexTime) return undefined;
  const crl = await writeRevocationList(folder, authority);
  return {
    revoked: [], crl, listedCount: (await revokedSerials(folder)).length,
    note: `${crl} was older than ${index}, which a revocation cut short leaves behind: written again from it, so every `
      + 'certificate revoked there is listed now',
  };
}

/**
 * Whether server.pem is the certificate with this serial (whatever its CN). A server may run from it
 * (`cpsbackup-ca server` prints ssl_cert and ssl_key in this folder): moving it and deleting its key
 * left that server unable to start again, with nothing to say so, until a new one was issued.
 */
async function isServerCopy(folder: string, authority: CertificateAuthorityFiles, serial: CertificateSerial): Promise<boolean> {
  // Missing, unparsable (an emptied server.pem) or another CA's: not the revoked one.
  const certificate = await readCertificateOfAuthority(serverCertificateFile(folder), authority).catch(() => undefined);
  return certificate !== undefined && certificateSerial(certificate.serialNumber) === serial;
}

/**
 * clients/NAME.pem when it is the revoked certificate (the serial decides): to revoked/CN-SERIAL.pem, and
 * its key deleted, so `client NAME` can issue anew. The node holds its own copies; these are spares.
 */
async function moveAsideIfClientCopy(folder: string, authority: CertificateAuthorityFiles, target: RevocationEntry): Promise<string | undefined> {
  if (target.commonName === undefined || !isValidClientName(target.commonName)) return undefined;
  const copy = { cert: clientCertificateFile(folder, target.commonName), key: path.join(folder, 'clients', `${target.commonName}.key`) };
  // A copy that is missing, cannot be parsed or is another CA's is not the revoked one: the revocation is
  // already written, and must not stop here with its key left behind.
  const certificate = await readCertificateOfAuthority(copy.cert, authority).catch(() => undefined);
  if (certificate === undefined || certificateSerial(certificate.serialNumber) !== target.serial) return undefined;
  const movedTo = revokedCopyFile(folder, certificate);
  await rename(copy.cert, movedTo);
  // The key of a revoked certificate is worthless to its owner and useful to a thief.
  await unlink(copy.key).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  return movedTo;
}

/** Where a revoked certificate's copy goes: revoked/CN-SERIAL.pem. */
export function revokedCopyFile(folder: string, certificate: X509Certificate): string {
  return path.join(revocationDatabase(folder).folder, `${commonNameOf(certificate) ?? 'unknown'}-${certificateSerial(certificate.serialNumber)}.pem`);
}

/**
 * server.pem when this CA has revoked it, read for `cpsbackup-ca server` to replace; undefined when there
 * is none. Throws a ConfigError for one that is still in force (or unreadable, or another CA's), which
 * a new one must not silently replace. The caller holds the CA lock.
 */
export async function revokedServerCopy(folder: string, authority: CertificateAuthorityFiles): Promise<X509Certificate | undefined> {
  const file = serverCertificateFile(folder);
  if (!existsSync(file)) return undefined;
  const certificate = await readCertificateOfAuthority(file, authority).catch(() => undefined);
  if (certificate !== undefined && (await revokedSerials(folder)).includes(certificateSerial(certificate.serialNumber))) return certificate;
  throw new ConfigError(file, undefined, 'already exists and is not revoked; refusing to overwrite '
    + `(revoke it first: cpsbackup-ca revoke --dir ${folder} --cert ${file}; a revoked one is replaced)`);
}

async function clientCopyWithSerial(folder: string, authority: CertificateAuthorityFiles, serial: CertificateSerial): Promise<X509Certificate | undefined> {
  const clients = path.join(folder, 'clients');
  if (!existsSync(clients)) return undefined;
  for (const name of (await readdir(clients)).filter((file) => file.endsWith('.pem'))) {
    // A file there that is not this CA's certificate is simply not the one sought.
    const certificate = await readCertificateOfAuthority(path.join(clients, name), authority).catch(() => undefined);
    if (certificate !== undefined && certificateSerial(certificate.serialNumber) === serial) return certificate;
  }
  return undefined;
}
