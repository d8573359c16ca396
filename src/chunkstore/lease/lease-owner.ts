// A store folder's lease owner id: random, made once, kept in the folder and never in the catalog.
// A catalog rebuilt by `recover` is the old server's, so an id kept there would let a drill's
// server pass for the live one; a new folder is a new owner.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CorruptError } from '../../common/errors';

const OWNER_FILE = 'lease-owner';

export async function leaseOwnerOf(directory: string): Promise<string> {
  const file = join(directory, OWNER_FILE);
  const existing = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (existing !== undefined) {
    const id = existing.trim();
    if (!/^[0-9a-f]{32}$/.test(id)) throw new CorruptError(`${file} does not hold a lease owner id (32 hex digits); remove it to make a new one`);
    return id;
  }
  const id = randomBytes(16).toString('hex');
  // The store folder's process lock is held: no other process makes this file at the same time.
  await writeFile(file, `${id}\n`, { mode: 0o600, flag: 'wx' });
  return id;
}
