// Path-valued and required config keys, shared by server.conf and node.conf readers.
// Relative paths are relative to the config file's folder, never to the process's cwd.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors';
import type { ConfigLine, ConfigText } from './parse';
import { lastLine } from './values';

export function requiredLine(config: ConfigText, key: string): ConfigLine {
  const entry = lastLine(config, key);
  if (entry === undefined) throw new ConfigError(config.file, undefined, `${key}= is required`);
  return entry;
}

export function resolvePath(file: string, entry: ConfigLine): string {
  if (entry.value === '') throw new ConfigError(file, entry.line, `${entry.key} must not be empty`);
  if (entry.value.includes('\0')) throw new ConfigError(file, entry.line, `${entry.key} contains a NUL byte`);
  return path.resolve(path.dirname(file), entry.value);
}

export function existingFile(file: string, entry: ConfigLine): string {
  const resolved = resolvePath(file, entry);
  if (!existsSync(resolved)) throw new ConfigError(file, entry.line, `${entry.key}: ${resolved} does not exist`);
  if (!statSync(resolved).isFile()) throw new ConfigError(file, entry.line, `${entry.key}: ${resolved} is not a regular file`);
  return resolved;
}
