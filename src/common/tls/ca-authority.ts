// The CA folder's authority (ca.pem, ca.key) and the openssl CLI that signs with it, shared by
// issuing and revoking.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BackupError, NotFoundError, errorMessage } from '../errors';

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
