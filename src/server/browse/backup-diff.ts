// Two backups' entries compared in one pass: both come in path order (bytes, as SQLite's memcmp
// sorts them), so a merge walk yields added, removed and changed entries in bounded memory.
import type { StoredEntry } from '../../chunkstore/store';

export type DiffKindName = 'added' | 'removed' | 'changed';

export interface EntryDifference {
  readonly kind: DiffKindName;
  readonly before: StoredEntry | undefined;
  readonly after: StoredEntry | undefined;
  /** For changed entries: which of "type", "content", "size", "mode", "owner", "mtime", "link", "xattrs", "flags" differ. */
  readonly changes: readonly string[];
}

/** What differs between two entries of one path; ctime, inode and link count are not changes a user made. */
export function changesBetween(before: StoredEntry, after: StoredEntry): string[] {
  const changes: string[] = [];
  if (before.type !== after.type) changes.push('type');
  if (before.contentId !== after.contentId) changes.push('content');
  if (before.size !== after.size) changes.push('size');
  if (before.mode !== after.mode) changes.push('mode');
  if (before.uid !== after.uid || before.gid !== after.gid || before.user !== after.user || before.group !== after.group) changes.push('owner');
  if (before.mtimeSec !== after.mtimeSec || before.mtimeNsec !== after.mtimeNsec) changes.push('mtime');
  if (!before.linkTarget.equals(after.linkTarget)) changes.push('link');
  if (!sameXattrs(before, after)) changes.push('xattrs');
  // Unknown (not read) on either side is no difference: an upgrade would list every file.
  if (before.inodeFlags !== null && after.inodeFlags !== null && before.inodeFlags !== after.inodeFlags) changes.push('flags');
  return changes;
}

function sameXattrs(before: StoredEntry, after: StoredEntry): boolean {
  if (before.xattrs.length !== after.xattrs.length) return false;
  return before.xattrs.every((xattr, index) => xattr.name.equals(after.xattrs[index].name) && xattr.value.equals(after.xattrs[index].value));
}

/**
 * Differences in path order; entries equal in every compared field are skipped. `pause` is awaited after each
 * compared path when it returns a promise: a caller on the server's event loop gives other calls their turns
 * there, since two large near-identical backups may compare for long between two differences.
 */
export async function* diffEntries(before: Iterable<StoredEntry>, after: Iterable<StoredEntry>,
  pause: () => Promise<void> | undefined = () => undefined): AsyncGenerator<EntryDifference> {
  const left = before[Symbol.iterator]();
  const right = after[Symbol.iterator]();
  let a = left.next();
  let b = right.next();
  while (!a.done || !b.done) {
    const order = a.done ? 1 : b.done ? -1 : Buffer.compare(a.value.path, b.value.path);
    if (order < 0) {
      yield { kind: 'removed', before: a.value as StoredEntry, after: undefined, changes: [] };
      a = left.next();
    } else if (order > 0) {
      yield { kind: 'added', before: undefined, after: b.value as StoredEntry, changes: [] };
      b = right.next();
    } else {
      const changes = changesBetween(a.value as StoredEntry, b.value as StoredEntry);
      if (changes.length > 0) yield { kind: 'changed', before: a.value as StoredEntry, after: b.value as StoredEntry, changes };
      a = left.next();
      b = right.next();
    }
    const pausing = pause();
    if (pausing !== undefined) await pausing;
  }
}
