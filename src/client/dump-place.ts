// Where a restore takes an entry marked as a dump (common/dump-entry.ts) for one. The mark is the server's
// word alone, and a dump is replaced whatever --overwrite says and handed to a loader: only its own place counts.
import { join, resolve } from 'node:path';
import { DUMPS_FOLDER } from './sources/dump-names';

const SLASH = 0x2f;
const DUMPS_NAME = Buffer.from(DUMPS_FOLDER);

/**
 * Where a restore's dumps are: the dumps folder of this node's work_directory (where its backups make them:
 * dump-run.ts), or any folder named "dumps" (another node's backup restored --to a folder: its work folder is
 * not known here, and what is replaced stays in the target).
 */
export type DumpPlace = { readonly workDirectory: string } | 'any dumps folder';

/** Whether a dump's path in the backup is <dumps folder>/<source>/<file>, each one plain name, in that place. */
export function isDumpPlace(path: Buffer, place: DumpPlace): boolean {
  const fileSlash = path.lastIndexOf(SLASH);
  const sourceSlash = fileSlash > 0 ? path.lastIndexOf(SLASH, fileSlash - 1) : -1;
  if (sourceSlash < 0 || !isPlainName(path.subarray(fileSlash + 1)) || !isPlainName(path.subarray(sourceSlash + 1, fileSlash))) return false;
  const folder = path.subarray(0, sourceSlash);
  if (place !== 'any dumps folder') return folder.equals(Buffer.from(join(resolve(place.workDirectory), DUMPS_FOLDER)));
  const nameAt = folder.length - DUMPS_NAME.length;
  return nameAt > 0 && folder[nameAt - 1] === SLASH && folder.subarray(nameAt).equals(DUMPS_NAME);
}

/** A name of one component: not empty, ".", ".." nor holding a NUL. */
function isPlainName(name: Buffer): boolean {
  return name.length > 0 && !name.includes(0) && !(name.length <= 2 && name.every((byte) => byte === 0x2e));
}
