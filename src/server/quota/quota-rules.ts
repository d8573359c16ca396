// Quota decisions, pure: a client's usage and its record's quotas in, a refusal or a warning out.
// Usage is counted by the store (ChunkStore.clientUsage); the README's Quotas section has the rule.
import type { QuotaSettings } from '../../common/config/quota-keys';
import { formatBytes } from '../status/status-text';

/** The client record's quotas where it sets them, else server.conf's; 0 (or nothing) means no quota. */
export function effectiveQuotas(record: QuotaSettings | undefined, server: QuotaSettings): { hardQuotaBytes?: number; softQuotaBytes?: number } {
  const hard = record?.hardQuotaBytes ?? server.hardQuotaBytes;
  const soft = record?.softQuotaBytes ?? server.softQuotaBytes;
  return { ...(hard ? { hardQuotaBytes: hard } : {}), ...(soft ? { softQuotaBytes: soft } : {}) };
}

/** The client-facing refusal when usage has reached hard_quota; undefined when the backup may start. */
export function hardQuotaRefusal(clientName: string, usageBytes: number, quotas: QuotaSettings): string | undefined {
  const hard = quotas.hardQuotaBytes;
  if (hard === undefined || usageBytes < hard) return undefined;
  return `backup of client "${clientName}" refused: it uses ${formatBytes(usageBytes)} (${usageBytes} bytes) of the store, `
    + `at or above its hard_quota of ${formatBytes(hard)} (${hard} bytes); delete backups (cpsbackup -d) or ask for a larger quota`;
}

/**
 * The client-facing reason a running backup stops: storing `wouldStore` bytes more than the
 * `usageBytes` it started with would pass hard_quota. Both figures are the client's own.
 */
export function hardQuotaStop(clientName: string, usageBytes: number, wouldStore: number, hardQuotaBytes: number): string {
  const total = usageBytes + wouldStore;
  return `backup of client "${clientName}" stopped: it reached its hard_quota of ${formatBytes(hardQuotaBytes)} (${hardQuotaBytes} bytes) while storing; `
    + `with it the client would use ${formatBytes(total)} (${total} bytes) of the store, ${formatBytes(usageBytes)} (${usageBytes} bytes) before this backup; `
    + 'delete backups (cpsbackup -d), back up less, or ask for a larger quota';
}

/** Whether usage is above soft_quota (a notification is due once per crossing, see SoftQuotaWatch). */
export function isOverSoftQuota(usageBytes: number, quotas: QuotaSettings): boolean {
  return quotas.softQuotaBytes !== undefined && usageBytes > quotas.softQuotaBytes;
}

/** The log-only detail when the store's disk is below min_free; undefined when there is room. */
export function minFreeShortage(freeBytes: number, minFreeBytes: number | undefined): string | undefined {
  if (minFreeBytes === undefined || freeBytes >= minFreeBytes) return undefined;
  return `the store's disk has ${formatBytes(freeBytes)} (${freeBytes} bytes) free, below min_free = ${formatBytes(minFreeBytes)} (${minFreeBytes} bytes)`;
}
