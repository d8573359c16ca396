// Turns a backed-up node's burp-style node.conf into one typed, frozen NodeConfig.
// Every unknown key or bad value is a ConfigError naming the file and the line.
import { existsSync, lstatSync, statSync } from 'node:fs';
import path from 'node:path';
import { Cron } from 'croner';
import { ConfigError } from '../errors';
import { logTargetProblem } from '../log-target';
import { nodeRevocationList } from '../tls/node-revocation-list';
import { checkTlsFiles } from '../tls/tls-files';
import { isValidClientName } from './client-record';
import { shown, shownPath } from './display';
import { parseConfigText, readConfigFile, trailingCommentWarnings, type ConfigLine, type ConfigText } from './parse';
import { boundedPath, existingFile, folderPath, pathLengthProblem, requiredLine, resolvePath } from './paths';
import { readReceiveFiles, RECEIVE_FILES_KEYS, type ReceiveFilesSettings } from './receive-keys';
import { readReceiveIgnore, RECEIVE_IGNORE_KEY } from './receive-ignore';
import { describeErrno, kindOf } from './regular-file';
import { allLines, checkKeys, lastLine, toBoolean, toInteger, toRegExp } from './values';
import { readScriptKeys, SCRIPT_ARG_KEYS, SCRIPT_KEYS, type ScriptSettings } from './script-keys';

export interface NodeConfig {
  readonly file: string;
  readonly server: string;
  readonly port: number;
  /** TLS name to verify when it differs from `server` (e.g. connecting by IP to a named certificate). */
  readonly serverName: string | undefined;
  readonly includes: readonly string[];
  /** The line of each include, in the same order, for includeWarnings' messages. */
  readonly includeLines: readonly number[];
  readonly excludeRegex: readonly RegExp[];
  readonly readAllFifos: boolean;
  /**
   * Who cuts, hashes and compresses file content: `client` (the default; only chunks the server lacks
   * cross the wire) or `server` (the client streams bytes: for a node too weak to compress).
   */
  readonly chunking: 'client' | 'server';
  /** Upload bandwidth cap in bytes per second (burp's ratelimit, given in Mbit/s); undefined: none. */
  readonly rateLimitBytesPerSecond: number | undefined;
  /**
   * burp's network_timeout: a server that answers nothing, not even an HTTP/2 ping, for this long (seconds)
   * fails the run, where a frozen server or a vanished host (no reset ever comes) held the client for ever.
   */
  readonly networkTimeoutSeconds: number;
  readonly sslCert: string;
  readonly sslKey: string;
  readonly sslCa: string;
  /**
   * The CA's revocation list the server's certificate is checked against: ssl_crl only, no default beside
   * ssl_ca (unlike the server's): a node made before it shares no list with the CA, and one found there
   * unasked could stop every backup the day it expired. Undefined: not checked.
   */
  readonly sslCrl: string | undefined;
  readonly storageConfig: string | undefined;
  readonly workDirectory: string;
  readonly stateDirectory: string;
  /** Cron expressions (5 fields, or 6 with seconds) for `cpsbackup daemon`; undefined: that job is off. */
  readonly scheduleComplete: string | undefined;
  readonly schedulePartial: string | undefined;
  readonly scheduleReceive: string | undefined;
  /** The client whose backups the receive job loads here (needs restore_client on the server). */
  readonly receiveClient: string | undefined;
  /** Sources of the sender's this receiver leaves out on purpose: their dumps are skipped, not warned of (receive-ignore.ts). */
  readonly receiveIgnore: readonly string[];
  /** Shell command run after a receive loaded every dump; success is recorded only after it exits 0. */
  readonly postprocess: string | undefined;
  /** receive_files = 1: a receive also restores the sender's files under receive_to (receive-keys.ts). */
  readonly receiveFiles: ReceiveFilesSettings | undefined;
  /** The daemon appends its log lines here as well as to stdout/stderr. */
  readonly logFile: string | undefined;
  /** backup_script_pre / backup_script_post / restore_script_post with their arguments (script-keys.ts). */
  readonly scripts: ScriptSettings;
  /**
   * Doubts about the files this configuration names that do not stop the program, each
   * "file:line: …" (a certificate peers will refuse); the CLI prints them once per run.
   */
  readonly warnings: readonly string[];
}

const singleKeys = [
  'server', 'port', 'server_name', 'read_all_fifos', 'chunking', 'ratelimit', 'network_timeout', 'ssl_cert', 'ssl_key', 'ssl_ca', 'ssl_crl',
  'storage_conf', 'work_directory', 'state_directory',
  'schedule_complete', 'schedule_partial', 'schedule_receive', 'receive_client', 'postprocess', 'log_file',
  ...RECEIVE_FILES_KEYS, ...SCRIPT_KEYS,
];
const repeatableKeys = new Set(['include', 'exclude_regex', RECEIVE_IGNORE_KEY, ...SCRIPT_ARG_KEYS]);
const knownKeys = new Set([...singleKeys, ...repeatableKeys]);

/**
 * burp's default is 7200 s. Five minutes, the server's idle_timeout: a client that waits longer for a
 * server that answers nothing is a stuck nightly job, and a healthy server answers a ping in milliseconds.
 */
const DEFAULT_NETWORK_TIMEOUT_SECONDS = 300;

/** Reads node.conf, and checks the contents of the certificate, key and CA it names. */
export function loadNodeConfig(file: string): NodeConfig {
  const text = readConfigFile(path.resolve(file));
  const config = nodeConfigFrom(text);
  const tlsWarnings = checkTlsFiles(config.file, {
    cert: { entry: requiredLine(text, 'ssl_cert'), path: config.sslCert },
    key: { entry: requiredLine(text, 'ssl_key'), path: config.sslKey },
    ca: { entry: requiredLine(text, 'ssl_ca'), path: config.sslCa },
  }, 'client');
  // Read now as the connection will read it: a list that cannot be used is a config error, not a failed backup.
  nodeRevocationList(config, lastLine(text, 'ssl_crl')?.line);
  return Object.freeze({ ...config, warnings: Object.freeze([...trailingCommentWarnings(text), ...tlsWarnings]) });
}

/** For tests and callers holding the text already; ssl files must exist on disk but their contents are not read. */
export function nodeConfigFromText(file: string, text: string): NodeConfig {
  return nodeConfigFrom(parseConfigText(path.resolve(file), text));
}

function nodeConfigFrom(config: ConfigText): NodeConfig {
  checkKeys(config, knownKeys, repeatableKeys);
  const { file } = config;
  const portLine = lastLine(config, 'port');
  const networkTimeoutLine = lastLine(config, 'network_timeout');
  const serverNameLine = lastLine(config, 'server_name');
  const readAllFifosLine = lastLine(config, 'read_all_fifos');
  const workLine = lastLine(config, 'work_directory');
  const stateLine = lastLine(config, 'state_directory');
  const logFileLine = lastLine(config, 'log_file');
  const postprocessLine = lastLine(config, 'postprocess');
  const scheduleReceive = readSchedule(config, 'schedule_receive');
  const includes = allLines(config, 'include');
  const sslCrlLine = lastLine(config, 'ssl_crl');
  return Object.freeze({
    file,
    server: readHost(file, requiredLine(config, 'server')),
    port: portLine === undefined ? 4200 : toInteger(file, portLine, 1, 65535),
    serverName: serverNameLine === undefined ? undefined : readHost(file, serverNameLine),
    includes: Object.freeze(includes.map((entry) => resolvePath(file, entry))),
    includeLines: Object.freeze(includes.map((entry) => entry.line)),
    excludeRegex: Object.freeze(allLines(config, 'exclude_regex').map((entry) => toRegExp(file, entry))),
    readAllFifos: readAllFifosLine === undefined ? false : toBoolean(file, readAllFifosLine),
    chunking: readChunking(config),
    rateLimitBytesPerSecond: readRateLimit(config),
    networkTimeoutSeconds: networkTimeoutLine === undefined ? DEFAULT_NETWORK_TIMEOUT_SECONDS : toInteger(file, networkTimeoutLine, 4, 86_400),
    sslCert: existingFile(file, requiredLine(config, 'ssl_cert')),
    sslKey: existingFile(file, requiredLine(config, 'ssl_key')),
    sslCa: existingFile(file, requiredLine(config, 'ssl_ca')),
    sslCrl: sslCrlLine === undefined ? undefined : existingFile(file, sslCrlLine),
    storageConfig: readStorageConfig(config),
    workDirectory: workLine === undefined ? '/var/lib/cpsbackup/work' : folderPath(file, workLine),
    stateDirectory: stateLine === undefined ? '/var/lib/cpsbackup/state' : folderPath(file, stateLine),
    scheduleComplete: readSchedule(config, 'schedule_complete'),
    schedulePartial: readSchedule(config, 'schedule_partial'),
    scheduleReceive,
    receiveClient: readReceiveClient(config, scheduleReceive !== undefined),
    receiveIgnore: readReceiveIgnore(config),
    postprocess: postprocessLine === undefined ? undefined : nonEmpty(file, postprocessLine),
    receiveFiles: readReceiveFiles(config),
    logFile: logFileLine === undefined ? undefined : readLogFile(file, logFileLine),
    scripts: readScriptKeys(config),
    warnings: Object.freeze([]),
  });
}

/**
 * An include that is missing or cannot exist (longer than the system allows) is not a reason to
 * refuse the whole configuration (the other includes still deserve a backup), but it is said when
 * a backup or the daemon starts, not discovered at restore time. Not at load: listing or
 * restoring must not depend on the included folders (a dead mount would block them).
 */
export function includeWarnings(config: NodeConfig): string[] {
  return config.includes.flatMap((include, index) => {
    const at = `${shownPath(config.file)}:${config.includeLines[index]}: include ${shownPath(include)}`;
    const lengthProblem = pathLengthProblem(include);
    if (lengthProblem !== undefined) return [`${at} ${lengthProblem}: it cannot exist, so nothing will be backed up for it`];
    try {
      // A symlink include is reported by each backup's walk, as not all asked for (exit 3): not here twice.
      lstatSync(include);
      return [];
    } catch (error) {
      return [`${at} ${describeErrno(include, error).problem}: nothing will be backed up for it`];
    }
  });
}

/** A FIFO as log file made the daemon block on its first line, deaf to SIGTERM. */
function readLogFile(file: string, entry: ConfigLine): string {
  const resolved = boundedPath(file, entry);
  const problem = logTargetProblem(resolved);
  if (problem !== undefined) throw new ConfigError(file, entry.line, `log_file: ${problem}`);
  return resolved;
}

const NEVER_FIRES = 'no time ahead matches it (a day the month never has, such as 30 February or 31 April, '
  + 'or a year gone by); give a schedule that runs, such as "30 3 * * *"';

/** Checked here with the scheduler's own parser, so a typo fails at start with its line, not at 3 a.m. */
function readSchedule(config: ConfigText, key: string): string | undefined {
  const entry = lastLine(config, key);
  if (entry === undefined) return undefined;
  let cron: Cron;
  try {
    cron = new Cron(entry.value); // without a callback it only parses; nothing is scheduled
  } catch (error) {
    throw new ConfigError(config.file, entry.line, `${key} must be a cron expression such as "30 3 * * *" or "*/5 * * * *" `
      + `(a sixth leading field gives seconds): ${shown((error as Error).message)}`);
  }
  // One that parses but names no time ahead (30 February, 31 April, a year gone by) would never run its job.
  if (cron.nextRun() === null) throw new ConfigError(config.file, entry.line, `${key} = ${shown(entry.value)} never fires: ${NEVER_FIRES}`);
  return entry.value;
}

function readReceiveClient(config: ConfigText, isRequired: boolean): string | undefined {
  const entry = lastLine(config, 'receive_client');
  if (entry === undefined) {
    if (isRequired) throw new ConfigError(config.file, lastLine(config, 'schedule_receive')?.line, 'schedule_receive needs receive_client = <the production client\'s name>');
    return undefined;
  }
  if (!isValidClientName(entry.value)) {
    throw new ConfigError(config.file, entry.line, `receive_client: "${shown(entry.value)}" is not a valid client name`);
  }
  return entry.value;
}

function nonEmpty(file: string, entry: ConfigLine): string {
  if (entry.value.trim() === '') throw new ConfigError(file, entry.line, `${entry.key} must not be empty`);
  return entry.value;
}

function readHost(file: string, entry: ConfigLine): string {
  // Host names, IPv4 and IPv6 literals; nothing that could smuggle a port, a path or a space.
  if (!/^[A-Za-z0-9]([A-Za-z0-9.:-]{0,252})$/.test(entry.value)) {
    throw new ConfigError(file, entry.line, `${entry.key} must be a host name or an IP address, got "${shown(entry.value)}"`);
  }
  return entry.value;
}

/** An explicit storage_conf must exist; the implicit one is used only when present. */
function readStorageConfig(config: ConfigText): string | undefined {
  const entry = lastLine(config, 'storage_conf');
  if (entry !== undefined) return existingFile(config.file, entry);
  const implicit = path.join(path.dirname(config.file), 'storage.conf');
  if (!existsSync(implicit)) return undefined;
  const kind = kindOf(statSync(implicit));
  if (kind !== undefined) throw new ConfigError(implicit, undefined, `is ${kind}, not a regular file (the storage.conf beside ${shownPath(config.file)})`);
  return implicit;
}

function readChunking(config: ConfigText): 'client' | 'server' {
  const entry = lastLine(config, 'chunking');
  if (entry === undefined) return 'client';
  if (entry.value === 'client' || entry.value === 'server') return entry.value;
  throw new ConfigError(config.file, entry.line, `chunking must be client or server, got "${entry.value.slice(0, 80)}"`);
}

/** burp's ratelimit: megabits per second, a fraction allowed (0.5 is 500 kbit/s). */
function readRateLimit(config: ConfigText): number | undefined {
  const entry = lastLine(config, 'ratelimit');
  if (entry === undefined) return undefined;
  const megabits = /^\d+(\.\d+)?$/.test(entry.value) ? Number(entry.value) : NaN;
  if (!(megabits >= 0.01 && megabits <= 100_000)) {
    throw new ConfigError(config.file, entry.line, `ratelimit must be megabits per second between 0.01 and 100000, got "${entry.value.slice(0, 80)}"`);
  }
  return Math.round(megabits * 1_000_000 / 8);
}
