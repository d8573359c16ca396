// The CA's revocations: revoked/index.txt (openssl ca's database format, which `openssl ca -gencrl`
// reads) and crl.pem written from it. This module alone writes the index; each CRL holds every revocation.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CorruptError } from '../common/errors';
import { openssl, requireAuthority, withWorkFolder } from './ca-authority';
import { writeDurably } from './durable-file';
import { certificateSerial, parseCertificateSerial, type CertificateSerial } from '../common/tls/certificate-serial';

export interface RevocationEntry {
  readonly serial: CertificateSerial;
  /** The certificate's CN when known ('/CN=NAME' in the index), else undefined. */
  readonly commonName: string | undefined;
  /** The certificate's expiry when known. */
  readonly notAfter: Date | undefined;
}

/**
 * The CRL is valid this long: the server loads it from a local file, so freshness buys nothing,
 * while an expired CRL makes OpenSSL refuse every client. `cpsbackup-ca crl` renews it.
 */
export const crlDays = 3650;

/** RFC 5280's "no well-defined expiration date": what the index holds for a serial revoked without its certificate. */
const unknownExpiry = '99991231235959Z';

export function crlFile(directory: string): string {
  return path.join(path.resolve(directory), 'crl.pem');
}

export function revocationDatabase(folder: string): { folder: string; index: string; crlNumber: string } {
  const database = path.join(folder, 'revoked');
  return { folder: database, index: path.join(database, 'index.txt'), crlNumber: path.join(database, 'crlnumber') };
}

/** Every revocation in the index (status R), in the order they were made. */
export async function revocations(directory: string): Promise<RevocationEntry[]> {
  const database = revocationDatabase(path.resolve(directory));
  if (!existsSync(database.index)) return [];
  const lines = (await readFile(database.index, 'utf8')).split('\n').filter((line) => line !== '');
  return lines.map((line, index) => {
    const fields = line.split('\t');
    if (fields.length !== 6 || !/^[0-9A-Fa-f]+$/.test(fields[3])) {
      throw new CorruptError(`${database.index}:${index + 1}: not a line of openssl's CA database`);
    }
    return { line: fields, entry: entryOf(fields) };
  }).filter(({ line }) => line[0] === 'R').map(({ entry }) => entry);
}

/** Revoked serials. */
export async function revokedSerials(directory: string): Promise<CertificateSerial[]> {
  return (await revocations(directory)).map((entry) => entry.serial);
}

/**
 * Adds the certificates to the index as revoked now (those already revoked stay as they are), in one
 * durable replacement of the file: a crash leaves the index before or after, never half of it. The
 * caller holds the CA lock (ca-lock.ts): two runs that read the index at once each wrote back only theirs.
 */
export async function addRevocations(directory: string, entries: readonly RevocationEntry[]): Promise<void> {
  // Written as CertificateSerials spell them, whole bytes as openssl's index needs: it refuses a serial of odd
  // length ("bad serial number length"), which a spelling without leading zeros gave one certificate in sixteen.
  const database = await openDatabase(path.resolve(directory));
  const lines = (await readFile(database.index, 'utf8')).split('\n').filter((line) => line !== '');
  const isRevoked = new Set(lines.filter((line) => line.startsWith('R\t')).map((line) => certificateSerial(line.split('\t')[3])));
  const revokedAt = asn1Time(new Date(), true);
  const added = entries.filter((entry) => !isRevoked.has(entry.serial)).map((entry) => [
    'R', entry.notAfter === undefined ? unknownExpiry : asn1Time(entry.notAfter, false), revokedAt, entry.serial, 'unknown',
    entry.commonName === undefined ? 'unknown' : `/CN=${entry.commonName}`,
  ].join('\t'));
  if (added.length === 0) return;
  // A serial openssl once listed as valid (V) or expired (E) becomes revoked: one line per serial.
  const addedSerials = new Set(entries.map((entry) => entry.serial));
  const kept = lines.filter((line) => {
    if (line.startsWith('R\t')) return true;
    const serial = parseCertificateSerial(line.split('\t')[3] ?? '');
    return serial === undefined || !addedSerials.has(serial);
  });
  await writeDurably(database.index, `${[...kept, ...added].join('\n')}\n`, 0o600, true);
}

/**
 * Rewrites crl.pem from the index (every revocation so far; none yet gives an empty, valid list). The
 * caller holds the CA lock: openssl renames revoked/crlnumber as it goes, and a list written from an
 * older index must not replace a newer one.
 */
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

function entryOf(fields: string[]): RevocationEntry {
  const commonName = /^\/CN=([^/]+)$/.exec(fields[5])?.[1];
  return { serial: certificateSerial(fields[3]), commonName, notAfter: fields[1] === unknownExpiry ? undefined : dateOf(fields[1]) };
}

/** UTCTime (YYMMDDHHMMSSZ) before 2050 as RFC 5280 asks, GeneralizedTime after; the revocation date must be UTCTime. */
function asn1Time(date: Date, isUtcTimeOnly: boolean): string {
  const generalized = `${date.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
  return isUtcTimeOnly || date.getUTCFullYear() < 2050 ? generalized.slice(2) : generalized;
}

function dateOf(time: string): Date | undefined {
  const match = /^(\d{2}|\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(time);
  if (match === null) return undefined;
  const year = match[1].length === 4 ? Number(match[1]) : Number(match[1]) + (Number(match[1]) < 50 ? 2000 : 1900);
  return new Date(Date.UTC(year, Number(match[2]) - 1, Number(match[3]), Number(match[4]), Number(match[5]), Number(match[6])));
}

async function openDatabase(folder: string): Promise<ReturnType<typeof revocationDatabase>> {
  const database = revocationDatabase(folder);
  await mkdir(database.folder, { recursive: true, mode: 0o700 });
  if (!existsSync(database.index)) await writeFile(database.index, '', { flag: 'wx', mode: 0o600 });
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
