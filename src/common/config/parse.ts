// Reads burp-style configuration files: `key = value` lines, `#` comments, repeatable keys.
// Keeps each line's number so every later validation error can name file and line.
import { ConfigError } from '../errors';
import { shown } from './display';
import { FileProblem, readRegularFile } from './regular-file';

export interface ConfigLine {
  readonly key: string;
  readonly value: string;
  readonly line: number;
}

export interface ConfigText {
  readonly file: string;
  readonly lines: readonly ConfigLine[];
}

/** Parses text already read; `file` is only used in error messages. */
export function parseConfigText(file: string, text: string): ConfigText {
  const lines: ConfigLine[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const equals = trimmed.indexOf('=');
    if (equals <= 0) {
      throw new ConfigError(file, index + 1, `expected "key = value", got "${shown(trimmed)}"`);
    }
    const key = trimmed.slice(0, equals).trim();
    if (!/^[a-z][a-z0-9_.-]*$/.test(key)) {
      throw new ConfigError(file, index + 1, `bad key "${shown(key)}"`);
    }
    lines.push({ key, value: trimmed.slice(equals + 1).trim(), line: index + 1 });
  });
  return { file, lines };
}

/**
 * Values holding whitespace then `#`: a comment after a value is not one (burp's format has comments on
 * lines of their own), so `exclude_regex = \.tmp$ # temp files` is the regex with the comment, which
 * never matches. Numbers and switches refuse such a value; a free-text key takes it, and it may be meant
 * (a regex or a command may hold " #"), so it is a warning, `file:line`, not a refusal.
 */
export function trailingCommentWarnings(config: ConfigText): string[] {
  return config.lines.filter((entry) => /\s#/.test(entry.value)).map((entry) => `${config.file}:${entry.line}: ${entry.key} = "${shown(entry.value)}" `
    + 'holds " #": a comment after a value is part of the value (comments go on a line of their own); the value is taken as written');
}

/** Config files are small operator-written text; a FIFO, device or folder given instead is refused unread. */
export function readConfigFile(file: string): ConfigText {
  let bytes: Buffer;
  try {
    bytes = readRegularFile(file);
  } catch (error) {
    if (!(error instanceof FileProblem)) throw error;
    throw new ConfigError(file, undefined, error.code === 'ENOENT' && !error.problem.includes('symlink') ? 'file not found' : error.problem);
  }
  return parseConfigText(file, configText(file, bytes));
}

/**
 * The file's text, refused where a setting is not UTF-8: read leniently, an include naming a folder by
 * bytes that are not UTF-8 became U+FFFD and named another folder, or none (found by review). A comment
 * may hold anything (an old Latin-1 note must not stop every backup after an upgrade).
 */
export function configText(file: string, bytes: Buffer): string {
  const strict = new TextDecoder('utf-8', { fatal: true });
  try {
    return strict.decode(bytes);
  } catch {
    const lines = bytes.toString('latin1').split('\n');
    lines.forEach((line, index) => {
      const trimmed = line.trim();
      if (trimmed === '' || trimmed.startsWith('#')) return;
      try {
        strict.decode(Buffer.from(line, 'latin1'));
      } catch {
        throw new ConfigError(file, index + 1, 'is not UTF-8 text: a configuration file is UTF-8 (a path with other bytes cannot be named in it; '
          + 'include its folder instead, or rename it)');
      }
    });
    return bytes.toString('utf8');
  }
}
