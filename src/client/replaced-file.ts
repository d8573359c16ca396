// A name the walk saw as a regular file (or a FIFO it reads) may name another inode by the time it is
// opened: a rename over it (an editor's save, a log rotation, a hostile swap). What is stored must then
// be described by the inode that was read, and only an entry of the walked kind is read as its content.
import { entryKind, type EntryKind, type PosixStat } from './posix/at';

export type OpenedFile =
  | { readonly kind: 'same' }
  /** Another entry of the same kind: read, and described by its own stat. */
  | { readonly kind: 'replaced' }
  /** Not of the walked kind any more: nothing is read, the entry is not in the backup. */
  | { readonly kind: 'unreadable'; readonly reason: string };

const KIND_NAMES: Readonly<Record<EntryKind, string>> = {
  file: 'a regular file', folder: 'a folder', symlink: 'a symbolic link', fifo: 'a FIFO', 'char-device': 'a character device',
  'block-device': 'a block device', socket: 'a socket', unknown: 'an entry of unknown type',
};

/** What the inode opened (its fstat) is to the one the walk saw (its lstat). */
export function openedFile(walked: PosixStat, opened: PosixStat): OpenedFile {
  const kind = entryKind(opened.mode);
  if (kind !== entryKind(walked.mode)) return { kind: 'unreadable', reason: `was replaced by ${KIND_NAMES[kind]} during the backup` };
  return opened.ino === walked.ino && opened.dev === walked.dev ? { kind: 'same' } : { kind: 'replaced' };
}
