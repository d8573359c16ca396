// Who runs sqlite3 for a SQLite source's dump, and on which path. sqlite3 opens the database by name and
// follows a symlink there, so root dumping a database in a folder an application's user controls dumped
// whatever that user pointed the name at (one of root's own databases included) into the backup, and a
// restore then gave it to them. Root runs it as itself only in a folder no one else controls; in a user's
// folder as that user, so that what it can read is what they could read anyway.
import { closeSync, lstatSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { DumpFailedError, errorMessage } from '../../common/errors';
import { statFd } from '../posix/at';
import { operatorRealFolder, PlantableSymlinkError } from '../posix/operator-real-path';

/** Others may create entries in a folder with these bits (sticky or not: a hot journal planted there is rolled back into the database). */
const WRITABLE_BY_OTHERS = 0o022;

export interface SqliteDumpUser {
  readonly uid: number;
  readonly gid: number;
}

export interface SqliteDumpPlace {
  /** The database in its real folder: the one judged below. */
  readonly path: string;
  /** The user (and group) sqlite3 runs as; undefined: as this process. */
  readonly runAs: SqliteDumpUser | undefined;
}

/**
 * Where and as whom a database is dumped. Not root: as is (it reads only what this user may). Root: as
 * itself when the folder and those above it are root's alone; as the folder's owner and group when the
 * folder is a user's, or when the path goes through a symlink of a user's in a folder of theirs (a
 * deployment's `current -> releases/…`); refused (DumpFailedError) in a root folder others may write to
 * or replace.
 */
export function sqliteDumpPlace(source: string, path: string): SqliteDumpPlace {
  if (process.geteuid?.() !== 0) return { path, runAs: undefined };
  const absolute = resolve(path);
  let folder: ReturnType<typeof operatorRealFolder>;
  try {
    folder = operatorRealFolder(dirname(absolute), 'owned');
  } catch (error) {
    const owner = error instanceof PlantableSymlinkError ? symlinkFolderOwner(error) : undefined;
    // Past that user's symlink the path is theirs to choose: sqlite3 follows it with their rights only.
    if (owner !== undefined) return { path: absolute, runAs: owner };
    throw new DumpFailedError(source, `cannot dump ${path}: ${errorMessage(error)}`);
  }
  try {
    const stats = statFd(folder.fd);
    const place = join(folder.path, basename(absolute));
    if (stats.uid !== 0) return { path: place, runAs: { uid: stats.uid, gid: stats.gid } };
    const why = folder.replaceableAt !== undefined
      ? `lies below ${folder.replaceableAt}, where someone other than root may replace folders`
      : (stats.mode & WRITABLE_BY_OTHERS) !== 0 ? `may be written to by others (mode ${(stats.mode & 0o7777).toString(8)})` : undefined;
    if (why === undefined) return { path: place, runAs: undefined };
    throw new DumpFailedError(source, `not dumped: ${folder.path} ${why}, so root does not run sqlite3 there `
      + '(a name in it may be pointed at another database); give the folder to the application\'s user (the dump then runs as that user) '
      + 'or make it and the folders above it root\'s alone');
  } finally {
    closeSync(folder.fd);
  }
}

/** The owner of a refused symlink when it sits in a folder of that same user's alone (not root's). */
function symlinkFolderOwner(error: PlantableSymlinkError): SqliteDumpUser | undefined {
  if (error.owner === 0) return undefined;
  try {
    const folder = lstatSync(dirname(error.symlinkPath));
    if (!folder.isDirectory() || folder.uid !== error.owner || (folder.mode & WRITABLE_BY_OTHERS) !== 0) return undefined;
    return { uid: folder.uid, gid: folder.gid };
  } catch {
    return undefined;
  }
}

/** The wrapper's argument that carries the user: `--as=UID:GID`. */
export function runAsArgument(user: SqliteDumpUser): string {
  return `--as=${user.uid}:${user.gid}`;
}

/** The user a `--as=UID:GID` first argument names, and the arguments after it. */
export function parseRunAsArgument(args: readonly string[]): { runAs: SqliteDumpUser | undefined; rest: readonly string[] } {
  const match = /^--as=(\d+):(\d+)$/.exec(args[0] ?? '');
  if (match === null) return { runAs: undefined, rest: args };
  return { runAs: { uid: Number(match[1]), gid: Number(match[2]) }, rest: args.slice(1) };
}
