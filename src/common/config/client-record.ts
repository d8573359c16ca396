// One client's record on the server: a burp-style file in clientconfdir named after the client,
// naming the certificate CN that authenticates it and what it may do. Pure: text in, record out.
import { ConfigError } from '../errors';
import { shown } from './display';
import type { ConfigText } from './parse';
import { readAppendOnlyKeepDays, readCalendarRules, readKeepDays, readKeepLevels, RETENTION_SINGLE_KEYS, type CalendarRules } from './retention-keys';
import { allLines, checkKeys, lastLine, toBoolean } from './values';
import { toDuration } from './server-config';
import { QUOTA_KEYS, readQuotaKeys } from './quota-keys';

export interface ClientRecord {
  readonly name: string;
  /** The record's file on the server; for the server's log only, never for a client. */
  readonly file: string;
  readonly sslPeerCn: string;
  /** Other clients whose backups this one may list and restore (burp's restore_client). */
  readonly restoreClients: readonly string[];
  readonly keep: readonly number[] | undefined;
  /** keep_last … keep_within; with keep, they replace server.conf's rules as a whole when either is set. */
  readonly calendar: CalendarRules | undefined;
  readonly keepDays: number | undefined;
  /** Overrides server.conf's keep_days_partial for this client. */
  readonly keepDaysPartial?: number;
  /** Overrides server.conf's append_only_keep_days for this client (read only while client_can_delete = 0). */
  readonly appendOnlyKeepDays?: number;
  /** Overrides server.conf's warn_after for this client (status port, overdue notification). */
  readonly warnAfterSeconds?: number;
  /** What the client may ask of the server (burp's client_can_* keys, each 1 unless the record says 0). */
  readonly rights: ClientRights;
  /** burp's hard_quota, overriding server.conf's (0: none): at or above this usage the next backup is refused at its start. */
  readonly hardQuotaBytes?: number;
  /** burp's soft_quota, overriding server.conf's (0: none): crossing it sends one `quota` notification. */
  readonly softQuotaBytes?: number;
}

/**
 * burp's names. canDelete = false makes the client append-only: a stolen node cannot erase its own
 * history (server retention still runs, and keeps every backup younger than append_only_keep_days). canForceBackup = false accepts only the daemon's scheduled
 * backups, not `cpsbackup -e` (burp: `-a t` timed backups, not `-a b`).
 */
export interface ClientRights {
  readonly canDelete: boolean;
  readonly canList: boolean;
  readonly canRestore: boolean;
  readonly canForceBackup: boolean;
}

/** The record key naming each right: what a refusal tells the client it lacks. */
export const RIGHT_KEYS: Readonly<Record<keyof ClientRights, string>> = Object.freeze({
  canDelete: 'client_can_delete',
  canList: 'client_can_list',
  canRestore: 'client_can_restore',
  canForceBackup: 'client_can_force_backup',
});

/**
 * Every key a record may hold. Adding one (issue 16's client_can_delete and friends): list it
 * here, give ClientRecord its field, read it in clientRecordFrom with the readers of values.ts.
 * A key not listed makes the record invalid, so a typo never silently grants or drops a right.
 */
const singleKeys = ['ssl_peer_cn', ...RETENTION_SINGLE_KEYS, 'warn_after', ...Object.values(RIGHT_KEYS), ...QUOTA_KEYS];
const repeatableKeys = new Set(['restore_client', 'keep']);
const knownKeys = new Set<string>([...singleKeys, ...repeatableKeys]);

const clientNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A client name becomes a path component on the server, so only a safe, short alphabet passes. */
export function isValidClientName(name: string): boolean {
  return clientNamePattern.test(name);
}

/** The record in `config` (a file named `name`); a ConfigError names the file and the line of the first problem. */
export function clientRecordFrom(name: string, config: ConfigText): ClientRecord {
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
        throw new ConfigError(file, entry.line, `restore_client: "${shown(other)}" is not a valid client name`);
      }
      if (!restoreClients.includes(other)) restoreClients.push(other);
    }
  }
  const keepDaysPartial = readKeepDays(config, 'keep_days_partial');
  const appendOnlyKeepDays = readAppendOnlyKeepDays(config);
  const warnAfterLine = lastLine(config, 'warn_after');
  const quotas = readQuotaKeys(config);
  return Object.freeze({
    name,
    file,
    sslPeerCn: commonNameLine.value,
    restoreClients: Object.freeze(restoreClients),
    keep: readKeepLevels(config),
    calendar: readCalendarRules(config),
    keepDays: readKeepDays(config, 'keep_days'),
    ...(keepDaysPartial === undefined ? {} : { keepDaysPartial }),
    ...(appendOnlyKeepDays === undefined ? {} : { appendOnlyKeepDays }),
    ...(warnAfterLine === undefined ? {} : { warnAfterSeconds: toDuration(file, warnAfterLine) }),
    ...quotas,
    rights: readRights(config),
  });
}

function readRights(config: ConfigText): ClientRights {
  const right = (key: string): boolean => {
    const entry = lastLine(config, key);
    return entry === undefined ? true : toBoolean(config.file, entry);
  };
  return Object.freeze({
    canDelete: right(RIGHT_KEYS.canDelete),
    canList: right(RIGHT_KEYS.canList),
    canRestore: right(RIGHT_KEYS.canRestore),
    canForceBackup: right(RIGHT_KEYS.canForceBackup),
  });
}
