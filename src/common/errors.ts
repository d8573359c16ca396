// Typed errors shared by client, server and CLI.
// Each carries a stable code and context so the CLI maps it to one line and an exit code.
import { shown, shownPath } from './config/display';

export type ErrorCode =
  | 'CONFIG'
  | 'AUTH'
  | 'NOT_FOUND'
  | 'CORRUPT'
  | 'DUMP_FAILED'
  | 'LOAD_FAILED'
  | 'SCRIPT_FAILED'
  | 'IO'
  | 'PROTOCOL'
  | 'BUSY'
  | 'DISK_FULL'
  | 'LIMIT'
  | 'INVALID_ARGUMENT'
  | 'INTERRUPTED'
  | 'REPLICA_MISMATCH';

export class BackupError extends Error {
  readonly code: ErrorCode;
  /** What only the server's log may show (a path, the key to set); never sent to a client. */
  readonly logDetail: string | undefined;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; logDetail?: string }) {
    super(message, options);
    this.code = code;
    this.logDetail = options?.logDetail;
    this.name = new.target.name;
  }
}

/** A configuration file has an unknown key, a bad value or a missing file; names file and line. */
export class ConfigError extends BackupError {
  readonly file: string;
  readonly line: number | undefined;
  /** The message without "file:line: ". */
  readonly problem: string;
  constructor(file: string, line: number | undefined, message: string) {
    // One line, whatever the values quoted in it: a config error is printed as exactly one line.
    const oneLine = shown(message, 2000);
    super('CONFIG', line === undefined ? `${shownPath(file)}: ${oneLine}` : `${shownPath(file)}:${line}: ${oneLine}`);
    this.file = file;
    this.line = line;
    this.problem = oneLine;
  }
}

/** A peer is not who it must be: unknown certificate CN, unregistered client, foreign backup. */
export class AuthError extends BackupError {
  /** `logDetail` goes to the server's log only: the client learns that it was refused, not the server's configuration. */
  constructor(message: string, logDetail?: string) {
    super('AUTH', message, { logDetail });
  }
}

export class NotFoundError extends BackupError {
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}

/** Stored data does not match its hash or structure. */
export class CorruptError extends BackupError {
  constructor(message: string) {
    super('CORRUPT', message);
  }
}

/** A dump source's command exited non-zero, was killed or timed out. */
export class DumpFailedError extends BackupError {
  readonly source: string;
  readonly stderrTail: string;
  constructor(source: string, message: string, stderrTail = '') {
    super('DUMP_FAILED', stderrTail ? `dump source ${source}: ${message}\n${stderrTail}` : `dump source ${source}: ${message}`);
    this.source = source;
    this.stderrTail = stderrTail;
  }
}

/** A loader (psql, mongorestore, loaddata, ...) failed after restore; its dump file is kept. */
export class LoadFailedError extends BackupError {
  readonly source: string;
  constructor(source: string, message: string) {
    super('LOAD_FAILED', `load ${source}: ${message}`);
    this.source = source;
  }
}

/**
 * A backup of a partial chain says it dumped a source whose dump is gone (check --repair took it out), and no later
 * link dumps the source whole: only a complete backup made after it mends that, so retrying cannot help.
 */
export class LostLinkError extends LoadFailedError {}

/** A backup_script_pre (or another hook script) failed; names the script and shows its stderr. */
export class ScriptFailedError extends BackupError {
  constructor(message: string) {
    super('SCRIPT_FAILED', message);
  }
}

export class ProtocolError extends BackupError {
  constructor(message: string) {
    super('PROTOCOL', message);
  }
}

export class BusyError extends BackupError {
  constructor(message: string, logDetail?: string) {
    super('BUSY', message, { logDetail });
  }
}

export class DiskFullError extends BackupError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DISK_FULL', message, options);
  }
}

/** The raw codes of a full disk: the catalog's (SQLITE_FULL), a file write's (ENOSPC), a quota's (EDQUOT). */
export function isDiskFullCode(code: unknown): boolean {
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT';
}

export class LimitError extends BackupError {
  constructor(message: string, logDetail?: string) {
    super('LIMIT', message, { logDetail });
  }
}

/**
 * A receiver's last applied backup is not on the server as it was applied (a replaced or rebuilt
 * server, deleted backups) and nothing there is newer than what the replica holds: nothing is loaded.
 */
export class ReplicaMismatchError extends BackupError {
  constructor(message: string) {
    super('REPLICA_MISMATCH', message);
  }
}

/** A pattern (regular expression, path filter) that cannot be used as given. */
export class InvalidPatternError extends BackupError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
