// A store folder's lease owner id: random, made once, kept in the folder and never in the catalog.
// A catalog rebuilt by `recover` is the old server's, so an id kept there would let a drill's
// server pass for the live one. The id is bound to the folder itself (its real path and inode): a
// copied folder (rsync, a restore to another path or disk) gets an id of its own, and so never takes
// the original's lease for its own. Not to the host name or the device number: a container's host
// name and a device number may change across a restart, and a server restarted after a crash would
// then find its own lease another's and wait out the stale period. (A clone of the whole disk keeps
// path and inode: a clone must not run beside its original.)
import { randomBytes } from 'node:crypto';
import { open, readFile, realpath, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';

const OWNER_FILE = 'lease-owner';

interface OwnerRecord {
  readonly id: string;
  readonly directory: string;
  readonly inode: number;
}

/** The folder's owner id; the folder's process lock must be held (no other process makes the file meanwhile). */
export async function leaseOwnerOf(directory: string): Promise<string> {
  const file = join(directory, OWNER_FILE);
  const here = await describeFolder(directory);
  const recorded = await readRecord(file);
  if (recorded !== undefined && recorded.directory === here.directory && recorded.inode === here.inode) return recorded.id;
  const record: OwnerRecord = { id: randomBytes(16).toString('hex'), ...here };
  await writeDurably(file, `${JSON.stringify(record)}\n`);
  return record.id;
}

async function describeFolder(directory: string): Promise<Omit<OwnerRecord, 'id'>> {
  const real = await realpath(directory);
  const info = await stat(real);
  return { directory: real, inode: info.ino };
}

/** Undefined for a missing, empty or unreadable record (a crash while it was first written): a new id is made. */
async function readRecord(file: string): Promise<OwnerRecord | undefined> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as Partial<OwnerRecord>;
    if (typeof parsed.id !== 'string' || !/^[0-9a-f]{32}$/.test(parsed.id)) return undefined;
    return parsed as OwnerRecord;
  } catch {
    return undefined;
  }
}

async function writeDurably(file: string, text: string): Promise<void> {
  const temporary = `${file}.tmp-${process.pid}`;
  const handle = await open(temporary, 'w', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, file);
}
