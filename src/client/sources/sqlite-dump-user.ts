// Who runs sqlite3 for a SQLite source's dump, and on which path. sqlite3 opens the database by name and
// follows symlinks on the way, so root dumping a database whose path an application's user controls
// dumped whatever that user pointed it at (one of root's own databases included) into the backup, and a
// restore then gave it to them. Root runs it as itself only on a path no one else may change; on a path
// that one user controls, as that user, and only for a database of theirs: run as them, sqlite3 reads
// only what they could read anyway, and the -wal and -shm files it may create are theirs, as the database.
import { execFileSync } from 'node:child_process';
import { isAbsolute, resolve } from 'node:path';
import { DumpFailedError, errorMessage } from '../../common/errors';
import { posixConstants } from '../posix/at';
import { pathControllers, type PathControl } from '../posix/path-controllers';

/** A group or anyone may create entries in a folder with these bits. */
const WRITABLE_BY_OTHERS = 0o022;

export interface SqliteDumpUser {
  readonly uid: number;
  readonly gid: number;
}

export interface SqliteDumpPlace {
  /** The database's path with its symlinks resolved, as judged. */
  readonly path: string;
  /** The user (and their primary group) sqlite3 runs as; undefined: as this process. */
  readonly runAs: SqliteDumpUser | undefined;
}

/**
 * Where and as whom a database is dumped. Not root: as is (it reads only what this user may). Root: as
 * itself when no one else may replace anything on the database's path; as the one user who may, when the
 * database is theirs; otherwise refused (DumpFailedError), saying what to change.
 */
export function sqliteDumpPlace(source: string, path: string): SqliteDumpPlace {
  if (process.geteuid?.() !== 0) return { path, runAs: undefined };
  const refuse = (why: string): never => {
    throw new DumpFailedError(source, `not dumped: ${why}, so root does not run sqlite3 on ${path} (sqlite3 follows `
      + 'symlinks there: whoever may replace a name on the way could point it at another database); give the database '
      + 'and the folders on its path to the application\'s user alone, or make them root\'s alone');
  };
  let control: PathControl;
  try {
    control = pathControllers(isAbsolute(path) ? path : resolve(path));
  } catch (error) {
    throw new DumpFailedError(source, `cannot dump ${path}: ${errorMessage(error)}`);
  }
  if ((control.stats.mode & posixConstants().S_IFMT) !== posixConstants().S_IFREG) {
    throw new DumpFailedError(source, `cannot dump ${path}: ${control.realPath} is not a regular file`);
  }
  if (control.sharedAt !== undefined) refuse(`a group or anyone may replace entries in ${control.sharedAt}, on its path`);
  // sqlite3 opens the -journal, -wal and -shm beside the database by name: one someone else put there first
  // (a hot journal) would be rolled back into it. Sticky or not, such a folder is refused.
  if ((control.folder.stats.mode & WRITABLE_BY_OTHERS) !== 0) {
    refuse(`others may create files in ${control.folder.path} (mode ${(control.folder.stats.mode & 0o7777).toString(8)}), beside the database`);
  }
  const [user, ...others] = control.controllers;
  if (user === undefined) return { path: control.realPath, runAs: undefined };
  if (others.length > 0) refuse(`users ${control.controllers.join(', ')} may each replace a name on its path`);
  if (control.stats.uid !== user) {
    refuse(`uid ${user} may replace a name on its path, but the database (${control.realPath}) belongs to uid ${control.stats.uid}`);
  }
  return { path: control.realPath, runAs: { uid: user, gid: primaryGroupOf(source, user) } };
}

/** The user's own primary group (NSS, as `id` reads it): a folder's group may be one they are not in. */
function primaryGroupOf(source: string, uid: number): number {
  let text: string;
  try {
    text = execFileSync('id', ['-g', String(uid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (error) {
    throw new DumpFailedError(source, `not dumped: uid ${uid}, who controls the database's path, has no primary group here (${errorMessage(error).split('\n')[0]})`);
  }
  if (!/^\d+$/.test(text)) throw new DumpFailedError(source, `not dumped: \`id -g ${uid}\` printed ${JSON.stringify(text)}`);
  return Number(text);
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
