// The key file (encryption_key_file): made once by `cpsbackup-server init-key` (mode 0600, never over an
// existing file), read at every start (refused when group or others may read it).
import { randomBytes } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConfigError } from '../../common/errors';
import { KEY_SIZE, StoreKey } from './store-key';

const MARKER = 'cpsbackup-key-v1';

function keyFileText(master: Buffer): string {
  return '# cpsbackup store encryption key (AES-256). Without this file no backup in the store can be read:\n'
    + '# keep a copy somewhere other than this server, and never share it.\n'
    + `${MARKER} ${master.toString('base64')}\n`;
}

/** Writes a new random key to file and returns it; an existing file is an error, never replaced. */
export async function createKeyFile(file: string): Promise<StoreKey> {
  const master = randomBytes(KEY_SIZE);
  let handle;
  try {
    handle = await open(file, 'wx', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(file, undefined, code === 'EEXIST'
      ? 'a key file already exists here; it is never overwritten (a new key would make every backup sealed with the old one unreadable)'
      : `cannot create the key file (${code ?? String(error)})`);
  }
  try {
    await handle.chmod(0o600); // whatever the umask made of the mode
    await handle.writeFile(keyFileText(master));
    await handle.sync();
  } finally {
    await handle.close();
  }
  // The folder entry too: a key that vanishes on power loss would take every later backup with it.
  const folder = await open(dirname(file), 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
  return new StoreKey(master, `key file ${file}`);
}

export async function loadKeyFile(file: string): Promise<StoreKey> {
  let text: string;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new ConfigError(file, undefined, 'the key file is not a regular file');
    if ((info.mode & 0o077) !== 0) {
      throw new ConfigError(file, undefined, `the key file may be read by group or others (mode ${(info.mode & 0o777).toString(8).padStart(4, '0')}); `
        + `run chmod 600 ${file}`);
    }
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(file, undefined, code === 'ENOENT'
      ? 'key file not found (make one with `cpsbackup-server init-key`, or restore your copy)'
      : `cannot read the key file (${code ?? String(error)})`);
  }
  return new StoreKey(parseKeyText(file, text), `key file ${file}`);
}

/** Never quotes a line of the file in an error: it may be the key. */
function parseKeyText(file: string, text: string): Buffer {
  const lines = text.split(/\r?\n/);
  let found: Buffer | undefined;
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^cpsbackup-key-v1 ([A-Za-z0-9+/]{43}=)$/.exec(line);
    if (match === null || found !== undefined) {
      throw new ConfigError(file, index + 1, `expected one line "${MARKER} <44 base64 characters>" (a file made by init-key)`);
    }
    found = Buffer.from(match[1], 'base64');
  }
  if (found === undefined || found.length !== KEY_SIZE) throw new ConfigError(file, undefined, `no "${MARKER}" line: not a cpsbackup key file`);
  return found;
}
