// A client's retention in the store: the rules that apply to it (its record's or server.conf's) and
// the decision for each of its committed backups. Shared by the running server and `retention`.
import type { BackupRecord, ChunkStore } from '../../chunkstore/store';
import type { ClientRecord } from '../../common/config/client-record';
import type { ServerConfig } from '../../common/config/server-config';
import { BackupKind } from '../../proto/cpsbackup';
import { retentionDecisions, type RetentionDecision, type RetentionPolicy } from './retention-decisions';

export interface BackupDecision {
  readonly backup: BackupRecord;
  readonly decision: RetentionDecision;
}

/**
 * A record that sets any rule (keep, keep_last … keep_within) replaces server.conf's rules as a whole:
 * mixing a server's keep = 7 into a client's keep_daily = 30 would keep what neither file says.
 * keep_days and keep_days_partial fall back key by key, as they always have.
 */
export function retentionPolicyFor(config: ServerConfig, record: ClientRecord | undefined): RetentionPolicy {
  const hasOwnRules = record !== undefined && (record.keep !== undefined || record.calendar !== undefined);
  return {
    keep: hasOwnRules ? record.keep ?? [] : config.keep,
    calendar: hasOwnRules ? record.calendar ?? {} : config.calendar,
    keepDays: record?.keepDays ?? config.keepDays,
    keepDaysPartial: record?.keepDaysPartial ?? config.keepDaysPartial,
    ...(record?.rights.canDelete === false ? { appendOnlyKeepDays: record.appendOnlyKeepDays ?? config.appendOnlyKeepDays } : {}),
  };
}

/** Oldest first. `now` only matters for keep_days; the calendar rules count back from the newest backup. */
export function planClientRetention(store: Pick<ChunkStore, 'listBackups'>, clientName: string, policy: RetentionPolicy, now: number): BackupDecision[] {
  const backups = store.listBackups(clientName);
  const decisions = new Map(retentionDecisions(backups.map((backup) => ({
    number: backup.number,
    finishedAt: backup.finishedAt ?? backup.startedAt,
    isPartial: backup.kind === BackupKind.BACKUP_KIND_PARTIAL,
    completeOrdinal: backup.completeOrdinal ?? undefined,
    isProtected: backup.isProtected,
    isIncomplete: backup.unreadableFiles > 0,
    isEmpty: backup.files === 0,
  })), policy, now).map((decision) => [decision.number, decision]));
  return backups.map((backup) => ({ backup, decision: decisions.get(backup.number)! }));
}
