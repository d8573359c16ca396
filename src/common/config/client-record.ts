// Reads the server's registry of clients: one burp-style file per client in clientconfdir.
// A client is known by its file name, and authenticated by the certificate CN the file names.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors';
import { readConfigFile, type ConfigText } from './parse';
import { readKeepDays, readKeepLevels } from './retention-keys';
import { allLines, checkKeys, lastLine } from './values';
import { toDuration } from './server-config';

export interface ClientRecord {
  readonly name: string;
  readonly sslPeerCn: string;
  /** Other clients whose backups this one may list and restore (burp's restore_client). */
  readonly restoreClients: readonly string[];
  readonly keep: readonly number[] | undefined;
  readonly keepDays: number | undefined;
  /** Overrides server.conf's keep_days_partial for this client. */
  readonly keepDaysPartial?: number;
  /** Overrides server.conf's warn_after for this client (status port, overdue notification). */
  readonly warnAfterSeconds?: number;
}

const repeatableKeys = new Set(['restore_client', 'keep']);
const knownKeys = new Set(['ssl_peer_cn', 'keep_days', 'keep_days_partial', 'warn_after', ...repeatableKeys]);

const clientNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A client name becomes a path component on the server, so only a safe, short alphabet passes. */
export function isValidClientName(name: string): boolean {
  return clientNamePattern.test(name);
}

export function loadClientRecords(clientsDirectory: string): Map<string, ClientRecord> {
  const folder = path.resolve(clientsDirectory);
  let names: string[];
  try {
    names = readdirSync(folder).sort();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(folder, undefined, code === 'ENOENT' ? 'clients folder not found' : `cannot read clients folder (${code})`);
  }
  const records = new Map<string, ClientRecord>();
  const namesByCommonName = new Map<string, string>();
  for (const name of names) {
    // Dot files are editor swap files, .git and the like: not clients, and not mistakes either.
    if (name.startsWith('.')) continue;
    const file = path.join(folder, name);
    if (!isValidClientName(name)) {
      throw new ConfigError(file, undefined, `"${name}" is not a valid client name (letters, digits, '.', '_', '-'; at most 64)`);
    }
    if (!statSync(file).isFile()) throw new ConfigError(file, undefined, 'not a regular file');
    const config = readConfigFile(file);
    const record = clientRecordFrom(name, config);
    // Two clients sharing a CN would let one certificate act as either client.
    const previous = namesByCommonName.get(record.sslPeerCn);
    if (previous !== undefined) {
      throw new ConfigError(file, lastLine(config, 'ssl_peer_cn')?.line,
        `ssl_peer_cn "${record.sslPeerCn}" is already used by client "${previous}"`);
    }
    namesByCommonName.set(record.sslPeerCn, name);
    records.set(name, record);
  }
  return records;
}

export function findClientByCommonName(
  records: ReadonlyMap<string, ClientRecord>,
  commonName: string,
): ClientRecord | undefined {
  for (const record of records.values()) {
    if (record.sslPeerCn === commonName) return record;
  }
  return undefined;
}

function clientRecordFrom(name: string, config: ConfigText): ClientRecord {
  checkKeys(config, knownKeys, repeatableKeys);
  const { file } = config;
  const commonNameLine = lastLine(config, 'ssl_peer_cn');
  if (commonNameLine === undefined) throw new ConfigError(file, undefined, 'ssl_peer_cn= is required');
  if (commonNameLine.value === '') throw new ConfigError(file, commonNameLine.line, 'ssl_peer_cn must not be empty');
  const restoreClients: string[] = [];
  for (const entry of allLines(config, 'restore_client')) {
    // burp accepts a comma-separated list as well as repeated lines.
    for (const other of entry.value.split(',').map((part) => part.trim())) {
      if (!isValidClientName(other)) {
        throw new ConfigError(file, entry.line, `restore_client: "${other}" is not a valid client name`);
      }
      if (!restoreClients.includes(other)) restoreClients.push(other);
    }
  }
  const keepDaysPartial = readKeepDays(config, 'keep_days_partial');
  const warnAfterLine = lastLine(config, 'warn_after');
  return Object.freeze({
    name,
    sslPeerCn: commonNameLine.value,
    restoreClients: Object.freeze(restoreClients),
    keep: readKeepLevels(config),
    keepDays: readKeepDays(config, 'keep_days'),
    ...(keepDaysPartial === undefined ? {} : { keepDaysPartial }),
    ...(warnAfterLine === undefined ? {} : { warnAfterSeconds: toDuration(file, warnAfterLine) }),
  });
}
