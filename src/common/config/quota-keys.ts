// burp's hard_quota / soft_quota: in server.conf for every client, in a client's record for that one
// (overriding server.conf's; 0 there means none). Sizes such as 10G; see README "Quotas and free space".
import { ConfigError } from '../errors';
import type { ConfigText } from './parse';
import { toByteSize } from './storage-keys';
import { lastLine } from './values';

export const QUOTA_KEYS: readonly string[] = Object.freeze(['hard_quota', 'soft_quota']);

export interface QuotaSettings {
  /** At or above this usage the next backup is refused at its start; 0: no quota. */
  readonly hardQuotaBytes?: number;
  /** Crossing it sends one `quota` notification; backups go on; 0: no quota. */
  readonly softQuotaBytes?: number;
}

/** A soft quota above the hard one could never warn before the refusal, so it is refused. */
export function readQuotaKeys(config: ConfigText): QuotaSettings {
  const hardLine = lastLine(config, 'hard_quota');
  const softLine = lastLine(config, 'soft_quota');
  const hardQuotaBytes = hardLine === undefined ? undefined : toByteSize(config.file, hardLine, 0);
  const softQuotaBytes = softLine === undefined ? undefined : toByteSize(config.file, softLine, 0);
  if (hardQuotaBytes && softQuotaBytes && softQuotaBytes > hardQuotaBytes) {
    throw new ConfigError(config.file, softLine!.line, `soft_quota (${softLine!.value}) must not be above hard_quota (${hardLine!.value})`);
  }
  return {
    ...(hardQuotaBytes === undefined ? {} : { hardQuotaBytes }),
    ...(softQuotaBytes === undefined ? {} : { softQuotaBytes }),
  };
}
