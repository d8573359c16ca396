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

/** Config files are small operator-written text; a FIFO, device or folder given instead is refused unread. */
export function readConfigFile(file: string): ConfigText {
  let text: string;
  try {
    text = readRegularFile(file).toString('utf8');
  } catch (error) {
    if (!(error instanceof FileProblem)) throw error;
    throw new ConfigError(file, undefined, error.code === 'ENOENT' && !error.problem.includes('symlink') ? 'file not found' : error.problem);
  }
  return parseConfigText(file, text);
}
