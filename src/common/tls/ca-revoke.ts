// Revokes client certificates and writes the CA's revocation list (crl.pem beside ca.pem).
// The list of revoked serials persists in revoked/index.txt (openssl ca's database), so each CRL holds them all.
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, NotFoundError } from '../errors';
import { isValidClientName } from '../config/client-record';
import { openssl, requireAuthority, withWorkFolder } from './ca-authority';

export interface RevokedCertificate {
  readonly commonName: string;
  /** Upper-case hex, as openssl and node:tls print it. */
  readonly serial: string;
  /** Where the revoked certificate was moved (its key is deleted). */
  readonly movedTo: string;
  readonly crl: string;
}

/**
 * The CRL is valid this long: the server loads it from a local file, so freshness buys nothing,
 * while an expired CRL makes OpenSSL refuse every client. `cpsbackup-ca crl` renews it.
 */
const crlDays = 3650;

export function crlFile(directory: string): string {
  return path.join(path.resolve(directory), 'crl.pem');
}

function revocationDatabase(folder: string): { folder: string; index: string; crlNumber: string } {
  const database = path.join(folder, 'revoked');
  return { folder: database, index: path.join(database, 'index.txt'), crlNumber: path.join(database, 'crlnumber') };
}

/**
 * Revokes clients/NAME.pem: records its serial, rewrites crl.pem, moves the certificate to
 * revoked/NAME-SERIAL.pem and deletes its key, so `cpsbackup-ca client NAME` can issue a new one.
 */
export async function revokeClientCertificate(directory: string, commonName: string): Promise<RevokedCertificate> {
  if (!isValidClientName(commonName)) throw new ConfigError(directory, undefined, `"${commonName}" is not a valid client name`);
  const folder = path.resolve(directory);
  const authority = requireAuthority(folder);
  const cert = path.join(folder, 'clients', `${commonName}.pem`);
  if (!existsSync(cert)) {
    throw new NotFoundError(`no certificate ${cert} to revoke (already revoked? revoked ones are in ${path.join(folder, 'revoked')})`);
  }
  const serial = new X509Certificate(await readFile(cert)).serialNumber.toUpperCase();
  const database = await openDatabase(folder);
  await withWorkFolder(async (work) => {
    await writeFile(path.join(work, 'ca.cnf'), crlConfig(database));
    await openssl(['ca', '-config', 'ca.cnf', '-cert', authority.caCert, '-keyfile', authority.caKey, '-revoke', cert], work);
  });
  const crl = await writeRevocationList(folder, authority);
  const movedTo = path.join(database.folder, `${commonName}-${serial}.pem`);
  await rename(cert, movedTo);
  // The key of a revoked certificate is worthless to its owner and useful to a thief.
  await unlink(path.join(folder, 'clients', `${commonName}.key`)).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  return { commonName, serial, movedTo, crl };
}

/** Rewrites crl.pem from the database (every revocation so far; none yet gives an empty, valid list). */
export async function writeRevocationList(directory: string, authority = requireAuthority(path.resolve(directory))): Promise<string> {
  const folder = path.resolve(directory);
  const database = await openDatabase(folder);
  const target = crlFile(folder);
  await withWorkFolder(async (work) => {
    await writeFile(path.join(work, 'ca.cnf'), crlConfig(database));
    await openssl(['ca', '-config', 'ca.cnf', '-cert', authority.caCert, '-keyfile', authority.caKey,
      '-gencrl', '-crldays', String(crlDays), '-out', 'crl.pem'], work);
    // Beside the target, then renamed: a server reloading on SIGHUP never reads half a list.
    const temporary = `${target}.tmp-${process.pid}`;
    await writeFile(temporary, await readFile(path.join(work, 'crl.pem')), { mode: 0o644 });
    await rename(temporary, target);
  });
  return target;
}

/** Revoked serials as openssl's database lists them (status R). */
export async function revokedSerials(directory: string): Promise<string[]> {
  const database = revocationDatabase(path.resolve(directory));
  if (!existsSync(database.index)) return [];
  const lines = (await readFile(database.index, 'utf8')).split('\n');
  return lines.filter((line) => line.startsWith('R\t')).map((line) => line.split('\t')[3]);
}

async function openDatabase(folder: string): Promise<ReturnType<typeof revocationDatabase>> {
  const database = revocationDatabase(folder);
  await mkdir(database.folder, { recursive: true, mode: 0o700 });
  if (!existsSync(database.index)) await writeFile(database.index, '', { flag: 'wx' });
  if (!existsSync(database.crlNumber)) await writeFile(database.crlNumber, '1000\n', { flag: 'wx' });
  return database;
}

function crlConfig(database: ReturnType<typeof revocationDatabase>): string {
  // Absolute paths: openssl runs in a throw-away folder. unique_subject = no: a re-issued NAME is a new serial.
  return `[ca]
default_ca = issuer
[issuer]
database = ${database.index}
crlnumber = ${database.crlNumber}
default_md = sha256
unique_subject = no
`;
}
