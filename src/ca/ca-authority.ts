// The CA folder's authority (ca.pem, ca.key) and the openssl CLI that signs with it, shared by
// issuing, revoking and listing; also the one check that a certificate really is this CA's.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BackupError, ConfigError, NotFoundError, errorMessage } from '../common/errors';

export interface CertificateAuthorityFiles {
  readonly caCert: string;
  readonly caKey: string;
}

export function caFiles(directory: string): CertificateAuthorityFiles {
  return { caCert: path.join(directory, 'ca.pem'), caKey: path.join(directory, 'ca.key') };
}

export function requireAuthority(folder: string): CertificateAuthorityFiles {
  const authority = caFiles(folder);
  if (!existsSync(authority.caCert) || !existsSync(authority.caKey)) {
    throw new NotFoundError(`no CA in ${folder} (ca.pem and ca.key): run "cpsbackup-ca init --dir ${folder}" first`);
  }
  return authority;
}

/**
 * Reads the certificate in `file` and proves ca.pem signed it (issuer name and signature), so a
 * revocation never names a serial of another CA while the certificate it was meant for stays valid.
 */
export async function readCertificateOfAuthority(file: string, authority: CertificateAuthorityFiles): Promise<X509Certificate> {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(await readFile(file));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw code === 'ENOENT' ? new NotFoundError(`${file} does not exist`)
      : new ConfigError(file, undefined, `holds no readable certificate (${errorMessage(error).split('\n')[0]})`);
  }
  const caCertificate = new X509Certificate(await readFile(authority.caCert));
  if (!certificate.checkIssued(caCertificate) || !certificate.verify(caCertificate.publicKey)) {
    throw new ConfigError(file, undefined, `was not issued by the CA of ${authority.caCert}: this CA cannot revoke it`);
  }
  return certificate;
}

/** A time as the CA tool prints it: "2026-12-05 16:40 UTC". */
export function minuteUtc(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** The CN of a certificate's subject; undefined when it has none. */
export function commonNameOf(certificate: X509Certificate): string | undefined {
  return certificate.subject.split('\n').find((part) => part.startsWith('CN='))?.slice('CN='.length);
}

export async function withWorkFolder<T>(work: (folder: string) => Promise<T>): Promise<T> {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'cpsbackup-ca-'));
  try {
    return await work(folder);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

export function openssl(args: string[], cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { cwd, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error === null) return resolve(stdout);
      const detail = stderr.trim().split('\n').slice(-3).join(' | ') || errorMessage(error);
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'openssl is not installed' : detail;
      reject(new BackupError('IO', `openssl ${args[0]} failed: ${reason}`));
    });
  });
}
