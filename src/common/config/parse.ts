// Reads burp-style configuration files: `key = value` lines, `#` comments, repeatable keys.
// Keeps each line's number so every later validation error can name file and line.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors';

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
      throw new ConfigError(file, index + 1, `expected "key = value", got "${trimmed}"`);
    }
    const key = trimmed.slice(0, equals).trim();
    if (!/^[a-z][a-z0-9_.-]*$/.test(key)) {
      throw new ConfigError(file, index + 1, `bad key "${key}"`);
    }
    lines.push({ key, value: trimmed.slice(equals + 1).trim(), line: index + 1 });
  });
  return { file, lines };
}

/** Config files are small operator-written text, so reading them whole is fine. */
export function readConfigFile(file: string): ConfigText {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(file, undefined, code === 'ENOENT' ? 'file not found' : `cannot read (${code ?? String(error)})`);
  }
  return parseConfigText(file, text);
}
