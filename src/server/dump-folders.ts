// The folders of a backup that hold a dump (a FIFO-content entry) at any depth, found in one pass over
// its paths: a restore that leaves the dumps out sends these only above something else it sends.
import { LimitError } from '../common/errors';
import { LoopYield } from '../common/loop-yield';
import { isDumpEntry } from '../common/dump-entry';
import type { EntryMeta } from '../proto/cpsbackup';

/**
 * Folders holding dumps one restore keeps in memory. Dumps share their folders (a sender's work folder
 * holds them all, 100,000 of them take one chain of names), so only a backup crafted for it gets near.
 */
export const MAX_DUMP_FOLDERS = 250_000;

const SLASH = '/';

/**
 * The folders above each dump, as latin1 keys (one character per byte: any name survives). Entries come
 * in any order; the event loop turns while they are read. `what` names the backup and client for a refusal.
 */
export async function foldersHoldingDumps(entries: Iterable<Pick<EntryMeta, 'path' | 'type' | 'inode' | 'device' | 'ctimeSec' | 'ctimeNsec'>>, what: string): Promise<ReadonlySet<string>> {
  const folders = new Set<string>();
  const loopYield = new LoopYield();
  for (const entry of entries) {
    if (isDumpEntry(entry)) {
      for (let folder = parentOf(entry.path.toString('latin1')); !folders.has(folder); folder = parentOf(folder)) {
        folders.add(folder);
        if (folders.size > MAX_DUMP_FOLDERS) {
          throw new LimitError(`${what} holds dumps in more than ${MAX_DUMP_FOLDERS} folders: refused to leave them out (restore with -i instead)`);
        }
        if (folder === SLASH) break;
      }
    }
    const turn = loopYield.turn();
    if (turn !== undefined) await turn;
  }
  return folders;
}

/** "/a/b" → "/a", "/a" → "/". */
function parentOf(path: string): string {
  const slash = path.lastIndexOf(SLASH);
  return slash <= 0 ? SLASH : path.slice(0, slash);
}
