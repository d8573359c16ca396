// Quota decisions, pure: a client's usage and its record's quotas in, a refusal or a warning out.
// Usage is counted by the store (ChunkStore.clientUsage); the README's Quotas section has the rule.
import type { ClientRecord } from '../../common/config/client-record';
import { formatBytes } from '../status/status-text';

/** The client-facing refusal when usage has reached hard_quota; undefined when the backup may start. */
export function hardQuotaRefusal(clientName: string, usageBytes: number, record: Pick<ClientRecord, 'hardQuotaBytes'> | undefined): string | undefined {
  const hard = record?.hardQuotaBytes;
  if (hard === undefined || usageBytes < hard) return undefined;
  return `backup of client "${clientName}" refused: it uses ${formatBytes(usageBytes)} (${usageBytes} bytes) of the store, `
    + `at or above its hard_quota of ${formatBytes(hard)} (${hard} bytes); delete backups (cpsbackup -d) or ask for a larger quota`;
}

/** Whether usage is above soft_quota (a notification is due once per crossing, see SoftQuotaWatch). */
export function isOverSoftQuota(usageBytes: number, record: Pick<ClientRecord, 'softQuotaBytes'> | undefined): boolean {
  return record?.softQuotaBytes !== undefined && usageBytes > record.softQuotaBytes;
}

/** The log-only detail when the store's disk is below min_free; undefined when there is room. */
export function minFreeShortage(freeBytes: number, minFreeBytes: number | undefined): string | undefined {
  if (minFreeBytes === undefined || freeBytes >= minFreeBytes) return undefined;
  return `the store's disk has ${formatBytes(freeBytes)} (${freeBytes} bytes) free, below min_free = ${formatBytes(minFreeBytes)} (${minFreeBytes} bytes)`;
}
