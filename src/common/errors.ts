// Typed errors shared by client, server and CLI.
// Each carries a stable code and context so the CLI maps it to one line and an exit code.

export type ErrorCode =
  | 'CONFIG'
  | 'AUTH'
  | 'NOT_FOUND'
  | 'CORRUPT'
  | 'DUMP_FAILED'
  | 'LOAD_FAILED'
  | 'IO'
  | 'PROTOCOL'
  | 'BUSY'
  | 'DISK_FULL'
  | 'LIMIT'
  | 'INVALID_ARGUMENT'
  | 'INTERRUPTED';

export class BackupError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A configuration file has an unknown key, a bad value or a missing file; names file and line. */
export class ConfigError extends BackupError {
  readonly file: string;
  readonly line: number | undefined;
  constructor(file: string, line: number | undefined, message: string) {
    super('CONFIG', line === undefined ? `${file}: ${message}` : `${file}:${line}: ${message}`);
    this.file = file;
    this.line = line;
  }
}

/** A peer is not who it must be: unknown certificate CN, unregistered client, foreign backup. */
export class AuthError extends BackupError {
  constructor(message: string) {
    super('AUTH', message);
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

export class ProtocolError extends BackupError {
  constructor(message: string) {
    super('PROTOCOL', message);
  }
}

export class BusyError extends BackupError {
  constructor(message: string) {
    super('BUSY', message);
  }
}

export class DiskFullError extends BackupError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DISK_FULL', message, options);
  }
}

export class LimitError extends BackupError {
  constructor(message: string) {
    super('LIMIT', message);
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
