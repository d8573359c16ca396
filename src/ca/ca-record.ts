// The CA's record of every certificate it issues, client and server: issued/NAME-SERIAL.pem, a copy of
// each certificate (never a key), so a certificate whose files were moved or deleted can still be revoked.
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CorruptError } from '../common/errors';
import { commonNameOf, minuteUtc } from './ca-authority';
import { certificateSerial, type CertificateSerial } from '../common/tls/certificate-serial';
import { writeDurably } from './durable-file';
import { syncPath } from '../common/sync-path';

/** What a certificate is for, read from its extended key usage: each copy says itself what it is. */
export type CertificateKind = 'client' | 'server';

const serverAuthUsage = '1.3.6.1.5.5.7.3.1';
const clientAuthUsage = '1.3.6.1.5.5.7.3.2';

export interface IssuedCertificate {
  readonly commonName: string;
  readonly kind: CertificateKind;
  readonly serial: CertificateSerial;
  readonly notAfter: Date;
  /** The record's copy, issued/NAME-SERIAL.pem. */
  readonly file: string;
}

/** How far back the record goes: a CA made before cpsbackup-ca kept one issued certificates it does not list. */
export type RecordCoverage =
  | { readonly isComplete: true }
  | { readonly isComplete: false; readonly since: Date | undefined };

/** Written in issued/ when the record begins after the CA: holds the time it began. */
const unrecordedBeforeFile = 'unrecorded-before';

export function issuedFolder(folder: string): string {
  return path.join(folder, 'issued');
}

/** For a new CA: its record is complete from the start. */
export async function beginCompleteRecord(folder: string): Promise<void> {
  await mkdir(issuedFolder(folder), { mode: 0o700 });
}

/**
 * Copies the certificate into the record, durably, before the caller hands it out. A CA older than
 * the record gets one first, marked with the time it began (made aside, then renamed into place,
 * so no crash leaves a record that looks complete).
 */
export async function recordIssued(folder: string, pem: string): Promise<IssuedCertificate> {
  const certificate = new X509Certificate(pem);
  const issued = issuedFolder(folder);
  if (!existsSync(issued)) {
    const started = await mkdtemp(path.join(folder, '.issued-'));
    await writeFile(path.join(started, unrecordedBeforeFile), `${new Date().toISOString()}\n`, { mode: 0o644 });
    await rename(started, issued).catch(async (error: NodeJS.ErrnoException) => {
      await rm(started, { recursive: true, force: true });
      // Another cpsbackup-ca began it meanwhile: that record serves.
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    });
    await syncPath(folder);
  }
  const entry = issuedEntry(issued, certificate);
  await writeDurably(entry.file, pem, 0o644, false);
  return entry;
}

/** Takes a certificate back out of the record: only for one whose key never left this process. */
export async function forgetIssued(entry: IssuedCertificate): Promise<void> {
  await unlink(entry.file);
}

/** Every certificate in the record, oldest expiry first; a record file that is not a certificate is an error, never skipped. */
export async function issuedCertificates(folder: string): Promise<IssuedCertificate[]> {
  const issued = issuedFolder(folder);
  if (!existsSync(issued)) return [];
  const entries: IssuedCertificate[] = [];
  for (const name of (await readdir(issued)).filter((file) => file.endsWith('.pem') && !file.startsWith('.')).sort()) {
    const file = path.join(issued, name);
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(await readFile(file));
    } catch (error) {
      throw new CorruptError(`${file}: the record of issued certificates holds a file that is not a certificate (${(error as Error).message})`);
    }
    entries.push({ ...issuedEntry(issued, certificate), file });
  }
  return entries.sort((first, second) => first.notAfter.getTime() - second.notAfter.getTime());
}

export async function recordCoverage(folder: string): Promise<RecordCoverage> {
  const issued = issuedFolder(folder);
  if (!existsSync(issued)) return { isComplete: false, since: undefined };
  const marker = path.join(issued, unrecordedBeforeFile);
  if (!existsSync(marker)) return { isComplete: true };
  const since = new Date((await readFile(marker, 'utf8')).trim());
  return { isComplete: false, since: Number.isNaN(since.getTime()) ? undefined : since };
}

/** What an operator must know when the record does not go back to the CA's creation; undefined when it does. */
export function coverageNote(coverage: RecordCoverage, commonName?: string): string | undefined {
  if (coverage.isComplete) return undefined;
  const when = coverage.since === undefined ? 'this CA was made by an older cpsbackup-ca and keeps no record of issued certificates yet'
    : `this CA began its record of issued certificates (issued/) on ${minuteUtc(coverage.since)}`;
  const whose = commonName === undefined ? 'certificates' : `certificates for ${commonName}`;
  return `note: ${when}; ${whose} issued before it are not in it and can be revoked only with --cert FILE or --serial HEX`;
}

/** Server only when it may serve: a certificate for both, or for neither, is treated as a client's, which revoke NAME reaches. */
export function kindOf(certificate: X509Certificate): CertificateKind {
  const usages = certificate.keyUsage ?? [];
  return usages.includes(serverAuthUsage) && !usages.includes(clientAuthUsage) ? 'server' : 'client';
}

function issuedEntry(issued: string, certificate: X509Certificate): IssuedCertificate {
  const commonName = commonNameOf(certificate) ?? 'unknown';
  const serial = certificateSerial(certificate.serialNumber);
  return { commonName, kind: kindOf(certificate), serial, notAfter: new Date(certificate.validTo), file: path.join(issued, `${commonName}-${serial}.pem`) };
}
