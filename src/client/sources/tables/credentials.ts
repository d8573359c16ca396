// Secrets for the database tools: read from the operator's password_file, handed over in a 0600
// file inside a 0700 folder of the work directory (PGPASSFILE, --defaults-extra-file), never argv.
import { mkdir, mkdtemp, open, rm, rmdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError } from '../../../common/errors';
import { CREDENTIALS_FOLDER } from '../../own-folders';
import { untrustedFolderReason } from '../trusted-folder';
import type { FailureFactory } from './dialect';

const PASSWORD_FILE_LIMIT = 64 * 1024;

/** A private folder for one run's credential files; remove() deletes it and what it holds. */
export interface PrivateFolder {
  readonly path: string;
  write(name: string, text: string): Promise<string>;
  remove(): Promise<void>;
}

/**
 * Refused (through `fail`) where someone other than root may write to or replace the credentials folder:
 * they could rename the run's folder away and put a symlink to a folder of theirs at its name, and read
 * the password written there.
 */
export async function makePrivateFolder(baseDirectory: string, fail: FailureFactory): Promise<PrivateFolder> {
  const parent = join(resolve(baseDirectory), CREDENTIALS_FOLDER);
  await mkdir(parent, { recursive: true, mode: 0o700 });
  const untrusted = untrustedFolderReason(parent);
  if (untrusted !== undefined) throw fail(`no credential file written: ${untrusted} (give work_directory a folder only root may write to)`);
  const path = await mkdtemp(join(parent, 'run-')); // mkdtemp makes it 0700
  return {
    path,
    write: async (name, text) => {
      const file = join(path, name);
      const handle = await open(file, 'wx', 0o600);
      try {
        await handle.writeFile(text);
      } finally {
        await handle.close();
      }
      return file;
    },
    remove: async () => {
      await rm(path, { recursive: true, force: true });
      await rmdir(parent).catch(() => undefined); // only when no other run's folder is left
    },
  };
}

/**
 * The first line of password_file. Refuses a file others may read, as libpq ignores such a
 * ~/.pgpass: a password readable by every local user is not a secret.
 */
export async function readPassword(passwordFile: string): Promise<string> {
  let handle;
  try {
    handle = await open(passwordFile, 'r');
  } catch (error) {
    throw new ConfigError(passwordFile, undefined, `password_file cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  try {
    const info = await handle.stat();
    if ((info.mode & 0o077) !== 0) {
      throw new ConfigError(passwordFile, undefined, `password_file is readable by group or others (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`);
    }
    const buffer = Buffer.alloc(Math.min(info.size, PASSWORD_FILE_LIMIT));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const password = buffer.subarray(0, bytesRead).toString('utf8').split(/\r?\n/, 1)[0];
    if (password === '') throw new ConfigError(passwordFile, 1, 'password_file: the first line (the password) is empty');
    return password;
  } finally {
    await handle.close();
  }
}
