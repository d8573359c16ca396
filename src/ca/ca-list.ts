// What `cpsbackup-ca list` shows: every certificate the CA issued, client and server (its record), with
// its state, and serials revoked without a recorded certificate (issued before the record began).
import path from 'node:path';
import { minuteUtc, requireAuthority } from './ca-authority';
import { coverageNote, issuedCertificates, recordCoverage, type CertificateKind } from './ca-record';
import { revocations } from './ca-revocation-index';
import type { CertificateSerial } from '../common/tls/certificate-serial';

export interface ListedCertificate {
  readonly commonName: string | undefined;
  /** Undefined for a serial revoked without its certificate in the record. */
  readonly kind: CertificateKind | undefined;
  readonly serial: CertificateSerial;
  readonly notAfter: Date | undefined;
  readonly status: 'valid' | 'expired' | 'revoked';
  /** False for a serial revoked without its certificate in the record. */
  readonly isRecorded: boolean;
}

export async function listCertificates(directory: string, commonName?: string): Promise<{ certificates: ListedCertificate[]; note: string | undefined }> {
  const folder = path.resolve(directory);
  requireAuthority(folder);
  const revoked = await revocations(folder);
  const isRevoked = new Set(revoked.map((entry) => entry.serial));
  const recorded = await issuedCertificates(folder);
  const isRecorded = new Set(recorded.map((entry) => entry.serial));
  const now = Date.now();
  const certificates: ListedCertificate[] = [
    ...recorded.map((entry) => ({
      commonName: entry.commonName, kind: entry.kind, serial: entry.serial, notAfter: entry.notAfter, isRecorded: true,
      status: isRevoked.has(entry.serial) ? 'revoked' as const : entry.notAfter.getTime() <= now ? 'expired' as const : 'valid' as const,
    })),
    ...revoked.filter((entry) => !isRecorded.has(entry.serial))
      .map((entry) => ({ commonName: entry.commonName, kind: undefined, serial: entry.serial, notAfter: entry.notAfter, isRecorded: false, status: 'revoked' as const })),
  ].filter((entry) => commonName === undefined || entry.commonName === commonName);
  // Kind before expiry: a server and a client of one name issued in the same second would otherwise swap places between runs.
  const kindOrder = (entry: ListedCertificate): number => (entry.kind === 'server' ? 0 : entry.kind === 'client' ? 1 : 2);
  certificates.sort((first, second) => (first.commonName ?? '').localeCompare(second.commonName ?? '')
    || kindOrder(first) - kindOrder(second)
    || (first.notAfter?.getTime() ?? Infinity) - (second.notAfter?.getTime() ?? Infinity));
  return { certificates, note: coverageNote(await recordCoverage(folder), commonName) };
}

/** One line per certificate under a header; columns padded to the widest value. */
export function certificateTable(certificates: readonly ListedCertificate[]): string {
  const rows = [['NAME', 'KIND', 'SERIAL', 'EXPIRES', 'STATUS'], ...certificates.map((entry) => [
    entry.commonName ?? '?', entry.kind ?? '?', entry.serial,
    entry.notAfter === undefined ? '?' : minuteUtc(entry.notAfter),
    entry.isRecorded ? entry.status : `${entry.status} (not in the record: issued before it began)`,
  ])];
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]))).join('  ')).join('\n') + '\n';
}
