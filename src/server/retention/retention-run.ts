// `cpsbackup-server retention [--dry-run] [CLIENT]`: one line per backup saying kept or removed and
// which rule keeps it (PBS's prune simulator); without --dry-run the removed ones are deleted.
import type { BackupRecord, ChunkStore } from '../../chunkstore/store';
import type { ServerConfig } from '../../common/config/server-config';
import { NotFoundError } from '../../common/errors';
import { shown } from '../../common/config/display';
import { BackupKind } from '../../proto/cpsbackup';
import type { ClientRegistry } from '../clients/client-registry';
import { planClientRetention, retentionPolicyFor, type BackupDecision } from './client-retention';

export interface RetentionRunOptions {
  /** Only this client; every client the store knows when absent. */
  readonly clientName?: string;
  /** Deletes the backups no rule keeps; absent, a dry run: the decisions are printed, nothing is deleted. */
  readonly remove?: (backups: readonly BackupRecord[]) => void;
  readonly now: number;
  readonly write: (line: string) => void;
}

/** Returns how many backups were removed (or would be, without `remove`). */
export function runRetention(store: Pick<ChunkStore, 'knownClients' | 'listBackups'>, config: ServerConfig, registry: ClientRegistry, options: RetentionRunOptions): number {
  const known = store.knownClients();
  if (options.clientName !== undefined && !known.includes(options.clientName)) {
    throw new NotFoundError(`client "${shown(options.clientName)}" has no backup in this store`);
  }
  let removed = 0;
  for (const clientName of options.clientName === undefined ? known : [options.clientName]) {
    // As the running server: a refused record's rules are unknown, and the defaults could delete what they keep.
    if (registry.isRefused(clientName)) {
      options.write(`${clientName}: skipped, its client record is refused (the server's log says why)`);
      continue;
    }
    const plan = planClientRetention(store, clientName, retentionPolicyFor(config, registry.byName(clientName)), options.now);
    for (const item of plan) options.write(decisionLine(clientName, item));
    const doomed = plan.filter(({ decision }) => !decision.isKept);
    options.remove?.(doomed.map(({ backup }) => backup));
    removed += doomed.length;
  }
  return removed;
}

/** `node1 0000003 2026-11-23 14:30:25 complete kept: keep = 7 (newest 7); keep_daily (2026-11-23)` */
export function decisionLine(clientName: string, { backup, decision }: BackupDecision): string {
  const kind = backup.kind === BackupKind.BACKUP_KIND_PARTIAL ? 'partial' : 'complete';
  return `${clientName} ${String(backup.number).padStart(7, '0')} ${localTime(backup.finishedAt ?? backup.startedAt)} ${kind} `
    + `${decision.isKept ? 'kept' : 'removed'}: ${decision.reasons.join('; ')}`;
}

/** Local time, as the calendar rules count days and weeks. */
function localTime(ms: number): string {
  const date = new Date(ms);
  const two = (value: number): string => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}
