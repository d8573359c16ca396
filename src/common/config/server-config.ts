// Turns the server's burp-style server.conf into one typed, frozen ServerConfig.
// Every unknown key or bad value is a ConfigError naming the file and the line.
import { accessSync, constants } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { Cron } from 'croner';
import { ConfigError } from '../errors';
import { DEFAULT_CHUNKER_PARAMS } from '../chunker-defaults';
import { checkTlsFiles } from '../tls/tls-files';
import { shown, shownPath } from './display';
import { parseConfigText, readConfigFile, trailingCommentWarnings, type ConfigLine, type ConfigText } from './parse';
import { existingFile, folderPath, folderProblem, requiredLine, resolvePath } from './paths';
import { readAppendOnlyKeepDays, readCalendarRules, readKeepDays, readKeepLevels, RETENTION_SINGLE_KEYS, type CalendarRules } from './retention-keys';
import { readStorageKeys, STORAGE_KEYS, toByteSize, type StorageSettings } from './storage-keys';
import { checkKeys, lastLine, toBoolean, toInteger } from './values';
import { QUOTA_KEYS, readQuotaKeys, type QuotaSettings } from './quota-keys';

export type ChunkerName = 'fastcdc' | 'rabin';

export interface ServerConfig {
  readonly file: string;
  readonly address: string;
  readonly port: number;
  readonly statusAddress: string;
  readonly statusPort: number;
  /**
   * Burp's multi-level retention: keep=7 then keep=4 keeps 7 backups, then 4 of every 7th. Empty
   * when only calendar rules are set; [7] when no rule at all is.
   */
  readonly keep: readonly number[];
  /** restic's keep_last … keep_yearly, keep_within; a backup either kind of rule keeps is kept. */
  readonly calendar: CalendarRules;
  readonly keepDays: number | undefined;
  /** Partial backups older than this many days are dropped (complete ones follow keep and keep_days). */
  readonly keepDaysPartial: number | undefined;
  /** Every complete backup of an append-only client younger than this many days is kept (0: none); see APPEND_ONLY_KEEP_DAYS. */
  readonly appendOnlyKeepDays: number;
  readonly directory: string;
  readonly clientsDirectory: string;
  /** The clientconfdir line (undefined: the default clients/ beside server.conf), for messages at start and reload. */
  readonly clientsDirectoryLine: number | undefined;
  readonly sslCert: string;
  readonly sslKey: string;
  readonly sslCa: string;
  /** The CA's revocation list: ssl_crl, else crl.pem beside ssl_ca (where cpsbackup-ca writes it); reread on SIGHUP. */
  readonly sslCrl: string;
  /** ssl_crl was given, so the file must exist; the default file is used only when present. */
  readonly isSslCrlRequired: boolean;
  readonly chunker: ChunkerName;
  readonly chunkMinSize: number;
  readonly chunkAvgSize: number;
  readonly chunkMaxSize: number;
  /** server.conf names the chunker or a chunk size; otherwise an existing store keeps the one it was made with. */
  readonly isChunkerSet: boolean;
  readonly compressionLevel: number;
  readonly maxChildren: number;
  readonly idleTimeoutSeconds: number;
  /**
   * burp's network_timeout, server side: a client connection that answers nothing, not even an HTTP/2 ping,
   * for this long (seconds) is closed, and the backup it carried dropped (backup-server.ts says why it matters).
   */
  readonly networkTimeoutSeconds: number;
  /**
   * How long a stopping server (SIGTERM, SIGINT) waits for its running calls, backups and restores among them,
   * before it cuts them (each named in the log); 0 cuts them at once.
   */
  readonly stopTimeoutSeconds: number;
  /** Verified connections open at once, all clients together; a TLS listener also takes no more sockets than this. */
  readonly maxConnections: number;
  /** Verified connections open at once with one certificate CN (a node runs one connection per cpsbackup process). */
  readonly maxConnectionsPerClient: number;
  /** Bearer token the status port requires when set (always required with allow_remote_status). */
  readonly statusToken: string | undefined;
  readonly allowRemoteStatus: boolean;
  /** Without a token, the status port shows paths and messages only with status_details = 1 (else counts, states, sizes). */
  readonly statusDetails: boolean;
  /** status_ssl = 1: the status port speaks HTTPS with ssl_cert / ssl_key (clients trust ssl_ca); plain HTTP is refused. */
  readonly statusSsl: boolean;
  /** status_figures_max_age: how old /status's and /metrics's store figures (a walk of the store, catalog totals) may be; 0: measured per request, one walk at a time. */
  readonly statusFiguresMaxAgeSeconds: number;
  /** Executable given the notification JSON on stdin (burp's notify_*_script). */
  readonly notifyScript: string | undefined;
  /** http(s) URL the notification JSON is POSTed to. */
  readonly notifyWebhook: string | undefined;
  /** A client whose last successful backup is older than this is overdue; a client record may override. */
  readonly warnAfterSeconds: number | undefined;
  /** A backup whose size or file count differs from the median of the last 10 by more than this share is an anomaly. */
  readonly anomalyShare: number;
  /** Cron expression (5 fields, or 6 with seconds first) on which the running server checks its store. */
  readonly checkSchedule: string | undefined;
  /** Share of chunks the scheduled check decompresses and re-hashes; 0 checks pack headers only. */
  readonly checkReadDataPercent: number;
  /** Chunks an interrupted backup stored stay held this long for its retry, which then sends only what is missing. */
  readonly resumeHoldSeconds: number;
  /** A chunk only other clients hold is written as if new, then dropped: a backup's time does not tell its client what others hold. */
  readonly hideSharedChunks: boolean;
  /** Where packs live (local folder or S3 bucket), the encryption key file, staging and cache bounds. */
  readonly storage: StorageSettings;
  /** burp's min_free: with less free space than this on the store's disk, backups are refused at their start. */
  readonly minFreeBytes: number | undefined;
  /** Every client's hard_quota / soft_quota unless its record sets its own (quota-keys.ts). */
  readonly quotas: QuotaSettings;
  /** Doubts found at load that do not stop the server, each "file:line: …"; logged once at start. */
  readonly warnings: readonly string[];
}

const singleKeys = [
  'address', 'port', 'status_address', 'status_port', ...RETENTION_SINGLE_KEYS, 'directory', 'clientconfdir',
  'ssl_cert', 'ssl_key', 'ssl_ca', 'chunker', 'chunk_min_size', 'chunk_avg_size', 'chunk_max_size',
  'compression_level', 'max_children', 'idle_timeout', 'network_timeout', 'stop_timeout', 'max_connections', 'max_connections_per_client',
  'status_token', 'allow_remote_status', 'status_details', 'notify_script', 'notify_webhook', 'warn_after', 'anomaly_share',
  'check_schedule', 'check_read_data_percent', 'ssl_crl', 'status_ssl', 'status_figures_max_age', 'min_free', 'resume_hold', 'hide_shared_chunks', ...QUOTA_KEYS, ...STORAGE_KEYS,
];
const repeatableKeys = new Set(['keep']);
const knownKeys = new Set([...singleKeys, ...repeatableKeys]);

/**
 * append_only_keep_days by default. Retention runs after each commit, and keep = N counts backups: a
 * stolen append-only node that committed N small backups made the server delete every real one (found
 * by review). Days are the server's clock, which no client moves: such a node can push out nothing
 * younger than this, which is the time its operator has to notice.
 */
export const APPEND_ONLY_KEEP_DAYS = 7;

const mebibyte = 1024 * 1024;
const dayInSeconds = 24 * 3600;

/** Reads server.conf, and checks the contents of the certificate, key and CA it names. */
export function loadServerConfig(file: string): ServerConfig {
  const text = readConfigFile(path.resolve(file));
  const config = serverConfigFrom(text);
  const tlsWarnings = checkTlsFiles(config.file, {
    cert: { entry: requiredLine(text, 'ssl_cert'), path: config.sslCert },
    key: { entry: requiredLine(text, 'ssl_key'), path: config.sslKey },
    ca: { entry: requiredLine(text, 'ssl_ca'), path: config.sslCa },
  }, 'server');
  return Object.freeze({ ...config, warnings: Object.freeze([...trailingCommentWarnings(text), ...tlsWarnings]) });
}

/** For tests and callers holding the text already; ssl files must exist on disk but their contents are not read. */
export function serverConfigFromText(file: string, text: string): ServerConfig {
  return serverConfigFrom(parseConfigText(path.resolve(file), text));
}

function serverConfigFrom(config: ConfigText): ServerConfig {
  checkKeys(config, knownKeys, repeatableKeys);
  const { file } = config;
  const integer = (key: string, fallback: number, min: number, max: number): number => {
    const entry = lastLine(config, key);
    return entry === undefined ? fallback : toInteger(file, entry, min, max);
  };
  const chunkSizes = readChunkSizes(config);
  const clientsLine = lastLine(config, 'clientconfdir');
  const warnAfterLine = lastLine(config, 'warn_after');
  const resumeHoldLine = lastLine(config, 'resume_hold');
  const hideSharedChunksLine = lastLine(config, 'hide_shared_chunks');
  const statusSslLine = lastLine(config, 'status_ssl');
  const statusSsl = statusSslLine === undefined ? false : toBoolean(file, statusSslLine);
  return Object.freeze({
    file,
    address: readAddress(config, 'address'),
    port: integer('port', 4200, 0, 65535),
    statusAddress: readAddress(config, 'status_address'),
    statusPort: integer('status_port', 4201, 0, 65535),
    // burp's default keep = 7 only when no rule is given: with calendar rules alone it would add 7 more.
    keep: readKeepLevels(config) ?? Object.freeze(readCalendarRules(config) === undefined ? [7] : []),
    calendar: readCalendarRules(config) ?? Object.freeze({}),
    keepDays: readKeepDays(config, 'keep_days'),
    keepDaysPartial: readKeepDays(config, 'keep_days_partial'),
    appendOnlyKeepDays: readAppendOnlyKeepDays(config) ?? APPEND_ONLY_KEEP_DAYS,
    directory: folderPath(file, requiredLine(config, 'directory')),
    clientsDirectory: readClientsDirectory(config),
    clientsDirectoryLine: clientsLine?.line,
    sslCert: existingFile(file, requiredLine(config, 'ssl_cert')),
    sslKey: existingFile(file, requiredLine(config, 'ssl_key')),
    sslCa: existingFile(file, requiredLine(config, 'ssl_ca')),
    ...readRevocationList(config),
    chunker: readChunker(config),
    isChunkerSet: ['chunker', 'chunk_min_size', 'chunk_avg_size', 'chunk_max_size'].some((key) => lastLine(config, key) !== undefined),
    ...chunkSizes,
    compressionLevel: integer('compression_level', 3, 1, 19),
    maxChildren: integer('max_children', 5, 1, 1000),
    idleTimeoutSeconds: integer('idle_timeout', 300, 1, 7 * dayInSeconds),
    networkTimeoutSeconds: integer('network_timeout', 60, 4, dayInSeconds),
    stopTimeoutSeconds: integer('stop_timeout', 600, 0, 7 * dayInSeconds),
    maxConnections: integer('max_connections', 256, 1, 100_000),
    maxConnectionsPerClient: integer('max_connections_per_client', 8, 1, 100_000),
    // 0 is allowed for tests; the store still never sweeps a chunk a running backup holds.
    ...readStatusAccess(config, statusSsl),
    statusSsl,
    statusFiguresMaxAgeSeconds: readFiguresMaxAge(config),
    notifyScript: readNotifyScript(config),
    notifyWebhook: readNotifyWebhook(config),
    warnAfterSeconds: warnAfterLine === undefined ? undefined : toDuration(file, warnAfterLine),
    anomalyShare: readAnomalyShare(config),
    checkSchedule: readCheckSchedule(config),
    checkReadDataPercent: integer('check_read_data_percent', 0, 0, 100),
    resumeHoldSeconds: resumeHoldLine === undefined ? 24 * 3600 : toDuration(file, resumeHoldLine),
    hideSharedChunks: hideSharedChunksLine === undefined ? true : toBoolean(file, hideSharedChunksLine),
    storage: readStorageKeys(config, chunkSizes.chunkMaxSize),
    minFreeBytes: readMinFree(config),
    quotas: Object.freeze(readQuotaKeys(config)),
    warnings: Object.freeze([]),
  });
}

/** Explicit: must exist now. Default: crl.pem beside ssl_ca, which may appear later (the first revoke, then SIGHUP). */
function readRevocationList(config: ConfigText): { sslCrl: string; isSslCrlRequired: boolean } {
  const entry = lastLine(config, 'ssl_crl');
  if (entry !== undefined) return { sslCrl: existingFile(config.file, entry), isSslCrlRequired: true };
  return { sslCrl: path.join(path.dirname(resolvePath(config.file, requiredLine(config, 'ssl_ca'))), 'crl.pem'), isSslCrlRequired: false };
}

/** Whether it exists is checked when the server loads the clients (start, SIGHUP); what it is, here. */
function readClientsDirectory(config: ConfigText): string {
  const entry = lastLine(config, 'clientconfdir');
  if (entry !== undefined) return folderPath(config.file, entry);
  const implicit = path.join(path.dirname(config.file), 'clients');
  const problem = folderProblem(implicit);
  if (problem !== undefined) throw new ConfigError(config.file, undefined, `clientconfdir (default: clients beside this file): ${problem}`);
  return implicit;
}

const durationUnits: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: dayInSeconds, w: 7 * dayInSeconds };

/** `26h`, `90m`, `2s`, `7d`, `1w`, or plain seconds; shared with client records' warn_after. */
export function toDuration(file: string, entry: ConfigLine): number {
  const match = /^(\d+)\s*([smhdw]?)$/.exec(entry.value);
  const seconds = match === null ? NaN : Number(match[1]) * durationUnits[match[2] || 's'];
  if (!(seconds >= 1 && seconds <= 365 * dayInSeconds)) {
    throw new ConfigError(file, entry.line, `${entry.key} must be a duration such as 2s, 90m, 26h or 7d (1 s to 365 d), got "${shown(entry.value)}"`);
  }
  return seconds;
}

/** A duration, or 0 for none; 30 s by default: a dashboard refreshing every 5 s sees the store walked twice a minute at most. */
function readFiguresMaxAge(config: ConfigText): number {
  const entry = lastLine(config, 'status_figures_max_age');
  if (entry === undefined) return 30;
  return entry.value === '0' ? 0 : toDuration(config.file, entry);
}

/** Loopback literals and localhost only: any other name may resolve to a public interface. */
export function isLoopbackAddress(address: string): boolean {
  return address === 'localhost' || address === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address);
}

function readStatusAccess(config: ConfigText, statusSsl: boolean): { statusToken: string | undefined; allowRemoteStatus: boolean; statusDetails: boolean } {
  const { file } = config;
  const allowLine = lastLine(config, 'allow_remote_status');
  const detailsLine = lastLine(config, 'status_details');
  const tokenLine = lastLine(config, 'status_token');
  const addressLine = lastLine(config, 'status_address');
  const allowRemoteStatus = allowLine === undefined ? false : toBoolean(file, allowLine);
  // The token travels in an HTTP header, so a short one could be guessed by anyone who can reach the port.
  if (tokenLine !== undefined && !/^[\x21-\x7e]{16,256}$/.test(tokenLine.value)) {
    throw new ConfigError(file, tokenLine.line, 'status_token must be 16 to 256 printable characters without spaces');
  }
  if (addressLine !== undefined && !isLoopbackAddress(addressLine.value) && !allowRemoteStatus) {
    throw new ConfigError(file, addressLine.line,
      `status_address ${shown(addressLine.value)} is not a loopback address; set allow_remote_status = 1 and status_token to expose the status port`);
  }
  if (allowRemoteStatus && tokenLine === undefined) {
    throw new ConfigError(file, allowLine?.line, 'allow_remote_status = 1 requires status_token');
  }
  // Plain HTTP would carry the bearer token, and the paths and messages it shows, in clear to anyone on
  // the path. No opt-out: status_ssl uses the certificate the gRPC port already has, so a reader needs
  // only ssl_ca; a tunnel or proxy in front can reach a loopback port without allow_remote_status.
  if (allowRemoteStatus && !statusSsl) {
    throw new ConfigError(file, allowLine?.line,
      'allow_remote_status = 1 requires status_ssl = 1: over plain HTTP the status_token would cross the network in clear');
  }
  const statusDetails = detailsLine === undefined ? false : toBoolean(file, detailsLine);
  return { statusToken: tokenLine?.value, allowRemoteStatus, statusDetails };
}

function readMinFree(config: ConfigText): number | undefined {
  const entry = lastLine(config, 'min_free');
  return entry === undefined ? undefined : toByteSize(config.file, entry, 0);
}

function readNotifyScript(config: ConfigText): string | undefined {
  const entry = lastLine(config, 'notify_script');
  if (entry === undefined) return undefined;
  const resolved = existingFile(config.file, entry);
  try {
    accessSync(resolved, constants.X_OK);
  } catch {
    throw new ConfigError(config.file, entry.line, `notify_script: ${shownPath(resolved)} is not executable`);
  }
  return resolved;
}

function readNotifyWebhook(config: ConfigText): string | undefined {
  const entry = lastLine(config, 'notify_webhook');
  if (entry === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(entry.value);
  } catch {
    throw new ConfigError(config.file, entry.line, `notify_webhook must be an http or https URL, got "${shown(entry.value)}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(config.file, entry.line, `notify_webhook must be an http or https URL, got "${shown(entry.value)}"`);
  }
  return url.href;
}

function readCheckSchedule(config: ConfigText): string | undefined {
  const entry = lastLine(config, 'check_schedule');
  if (entry === undefined) return undefined;
  const fieldCount = entry.value.split(/\s+/).length;
  let problem = fieldCount === 5 || fieldCount === 6 ? undefined : `it has ${fieldCount} fields`;
  try {
    // Without a callback croner only parses; one naming no time ahead (30 February, a year gone by) would never check.
    if (problem === undefined && new Cron(entry.value).nextRun() === null) {
      throw new ConfigError(config.file, entry.line, `check_schedule = ${entry.value} never fires: no time ahead matches it (a day the `
        + 'month never has, such as 30 February or 31 April, or a year gone by); give a schedule that runs, such as "0 4 * * 0"');
    }
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    problem = (error as Error).message;
  }
  if (problem !== undefined) {
    throw new ConfigError(config.file, entry.line, `check_schedule must be a cron expression of 5 fields, or 6 with seconds first, `
      + `such as "0 4 * * 0": ${problem}`);
  }
  return entry.value;
}

function readAnomalyShare(config: ConfigText): number {
  const entry = lastLine(config, 'anomaly_share');
  if (entry === undefined) return 0.5;
  const match = /^(\d+(?:\.\d+)?)(%?)$/.exec(entry.value);
  const share = match === null ? NaN : Number(match[1]) / (match[2] === '%' ? 100 : 1);
  if (!(share > 0 && share <= 100)) {
    throw new ConfigError(config.file, entry.line, `anomaly_share must be a share such as 0.5 or 50%, got "${shown(entry.value)}"`);
  }
  return share;
}

function readAddress(config: ConfigText, key: string): string {
  const entry = lastLine(config, key);
  if (entry === undefined) return '127.0.0.1';
  const isHostName = /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/.test(entry.value);
  if (isIP(entry.value) === 0 && !isHostName) {
    throw new ConfigError(config.file, entry.line, `${key} must be an IP address or a host name, got "${shown(entry.value)}"`);
  }
  return entry.value;
}

function readChunker(config: ConfigText): ChunkerName {
  const entry = lastLine(config, 'chunker');
  if (entry === undefined) return 'fastcdc';
  if (entry.value === 'fastcdc' || entry.value === 'rabin') return entry.value;
  throw new ConfigError(config.file, entry.line, `chunker must be fastcdc or rabin, got "${shown(entry.value)}"`);
}

function readChunkSizes(config: ConfigText): { chunkMinSize: number; chunkAvgSize: number; chunkMaxSize: number } {
  const { file } = config;
  const minLine = lastLine(config, 'chunk_min_size');
  const avgLine = lastLine(config, 'chunk_avg_size');
  const maxLine = lastLine(config, 'chunk_max_size');
  const defaults = DEFAULT_CHUNKER_PARAMS;
  const chunkMinSize = minLine === undefined ? defaults.minSize : toInteger(file, minLine, 64, 64 * mebibyte);
  const chunkAvgSize = avgLine === undefined ? defaults.avgSize : toInteger(file, avgLine, 64, 64 * mebibyte);
  const chunkMaxSize = maxLine === undefined ? defaults.maxSize : toInteger(file, maxLine, 64, 64 * mebibyte);
  // Both chunkers cut where a hash matches a bit mask, so the average must be a power of two.
  if ((chunkAvgSize & (chunkAvgSize - 1)) !== 0) {
    throw new ConfigError(file, avgLine?.line, `chunk_avg_size must be a power of two, got ${chunkAvgSize}`);
  }
  if (!(chunkMinSize < chunkAvgSize && chunkAvgSize < chunkMaxSize)) {
    const blamed = maxLine ?? avgLine ?? minLine;
    throw new ConfigError(file, blamed?.line,
      `chunk sizes must satisfy chunk_min_size < chunk_avg_size < chunk_max_size, got ${chunkMinSize} / ${chunkAvgSize} / ${chunkMaxSize}`);
  }
  return { chunkMinSize, chunkAvgSize, chunkMaxSize };
}
