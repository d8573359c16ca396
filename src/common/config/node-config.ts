// Turns a backed-up node's burp-style node.conf into one typed, frozen NodeConfig.
// Every unknown key or bad value is a ConfigError naming the file and the line.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors';
import { parseConfigText, readConfigFile, type ConfigLine, type ConfigText } from './parse';
import { allLines, checkKeys, lastLine, toBoolean, toInteger, toRegExp } from './values';

export interface NodeConfig {
  readonly file: string;
  readonly server: string;
  readonly port: number;
  /** TLS name to verify when it differs from `server` (e.g. connecting by IP to a named certificate). */
  readonly serverName: string | undefined;
  readonly includes: readonly string[];
  readonly excludeRegex: readonly RegExp[];
  readonly readAllFifos: boolean;
  readonly sslCert: string;
  readonly sslKey: string;
  readonly sslCa: string;
  readonly storageConfig: string | undefined;
  readonly workDirectory: string;
  readonly stateDirectory: string;
}

const singleKeys = [
  'server', 'port', 'server_name', 'read_all_fifos', 'ssl_cert', 'ssl_key', 'ssl_ca',
  'storage_conf', 'work_directory', 'state_directory',
];
const repeatableKeys = new Set(['include', 'exclude_regex']);
const knownKeys = new Set([...singleKeys, ...repeatableKeys]);

export function loadNodeConfig(file: string): NodeConfig {
  return nodeConfigFrom(readConfigFile(path.resolve(file)));
}

/** For tests and callers holding the text already; ssl files must still exist on disk. */
export function nodeConfigFromText(file: string, text: string): NodeConfig {
  return nodeConfigFrom(parseConfigText(path.resolve(file), text));
}

function nodeConfigFrom(config: ConfigText): NodeConfig {
  checkKeys(config, knownKeys, repeatableKeys);
  const { file } = config;
  const portLine = lastLine(config, 'port');
  const serverNameLine = lastLine(config, 'server_name');
  const readAllFifosLine = lastLine(config, 'read_all_fifos');
  const workLine = lastLine(config, 'work_directory');
  const stateLine = lastLine(config, 'state_directory');
  return Object.freeze({
    file,
    server: readHost(file, requiredLine(config, 'server')),
    port: portLine === undefined ? 4200 : toInteger(file, portLine, 1, 65535),
    serverName: serverNameLine === undefined ? undefined : readHost(file, serverNameLine),
    includes: Object.freeze(allLines(config, 'include').map((entry) => resolvePath(file, entry))),
    excludeRegex: Object.freeze(allLines(config, 'exclude_regex').map((entry) => toRegExp(file, entry))),
    readAllFifos: readAllFifosLine === undefined ? false : toBoolean(file, readAllFifosLine),
    sslCert: existingFile(file, requiredLine(config, 'ssl_cert')),
    sslKey: existingFile(file, requiredLine(config, 'ssl_key')),
    sslCa: existingFile(file, requiredLine(config, 'ssl_ca')),
    storageConfig: readStorageConfig(config),
    workDirectory: workLine === undefined ? '/var/lib/cpsbackup/work' : resolvePath(file, workLine),
    stateDirectory: stateLine === undefined ? '/var/lib/cpsbackup/state' : resolvePath(file, stateLine),
  });
}

function readHost(file: string, entry: ConfigLine): string {
  // Host names, IPv4 and IPv6 literals; nothing that could smuggle a port, a path or a space.
  if (!/^[A-Za-z0-9]([A-Za-z0-9.:-]{0,252})$/.test(entry.value)) {
    throw new ConfigError(file, entry.line, `${entry.key} must be a host name or an IP address, got "${entry.value}"`);
  }
  return entry.value;
}

/** An explicit storage_conf must exist; the implicit one is used only when present. */
function readStorageConfig(config: ConfigText): string | undefined {
  const entry = lastLine(config, 'storage_conf');
  if (entry !== undefined) return existingFile(config.file, entry);
  const implicit = path.join(path.dirname(config.file), 'storage.conf');
  return existsSync(implicit) ? implicit : undefined;
}

function requiredLine(config: ConfigText, key: string): ConfigLine {
  const entry = lastLine(config, key);
  if (entry === undefined) throw new ConfigError(config.file, undefined, `${key}= is required`);
  return entry;
}

/** Relative paths are relative to the config file's folder, never to the process's cwd. */
function resolvePath(file: string, entry: ConfigLine): string {
  if (entry.value === '') throw new ConfigError(file, entry.line, `${entry.key} must not be empty`);
  if (entry.value.includes('\0')) throw new ConfigError(file, entry.line, `${entry.key} contains a NUL byte`);
  return path.resolve(path.dirname(file), entry.value);
}

function existingFile(file: string, entry: ConfigLine): string {
  const resolved = resolvePath(file, entry);
  if (!existsSync(resolved)) throw new ConfigError(file, entry.line, `${entry.key}: ${resolved} does not exist`);
  if (!statSync(resolved).isFile()) throw new ConfigError(file, entry.line, `${entry.key}: ${resolved} is not a regular file`);
  return resolved;
}
