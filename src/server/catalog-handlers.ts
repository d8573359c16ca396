// The Show, Delete and Protect calls: a read and two changes, each scoped to a client the caller may touch
// (List, streamed in batches, is list-handler.ts).
import type * as grpc from '@grpc/grpc-js';
import type { BackupSummary, DeleteRequest, DeleteResponse, EntryMeta, ProtectRequest, ShowBatch, ShowRequest } from '../proto/cpsbackup';
import type { ServerContext } from './server-context';
import { authenticate, requireRight, requireRights, targetClientName } from './auth';
import { committedBackup, isDeletable } from './backup-lookup';
import { backupSummaryOf } from './backup-summary';
import { entryMetaOf } from './entry-convert';
import { failStreamingCall, toServiceError } from './grpc-errors';
import { writeWithBackpressure } from './stream-write';
import { ENTRY_BATCH_BYTES, entryBatchBytes } from './entry-batch-bytes';
import { MessageBatcher } from '../common/wire/message-batcher';
import { AuthError } from '../common/errors';
import { BackupKind } from '../proto/cpsbackup';
import { escapeBytes } from '../common/escape-bytes';
import type { BackupRecord } from '../chunkstore/store';

const SHOW_BATCH = 1000;
/** Damaged entries named in -s's warnings: the summary stays well under a message's size. */
const MAX_DAMAGED_SHOWN = 100;

export async function handleShow(context: ServerContext, call: grpc.ServerWritableStream<ShowRequest, ShowBatch>): Promise<void> {
  try {
    const caller = authenticate(call, context.clients);
    requireRight(caller, 'canList');
    const clientName = targetClientName(caller, call.request.clientName, 'read');
    const backup = committedBackup(context.store, clientName, call.request.backupId);
    // The summary goes in a batch of its own: with its labels and warnings (up to ~2 MiB) beside a full
    // batch of entries, the first message could pass the 4 MiB cap.
    // Entries the catalog holds damaged are named among the warnings, before the listing that shows them.
    const damaged = context.store.damagedEntries(backup).slice(0, MAX_DAMAGED_SHOWN)
      .map(({ path, damage, hasContent }) => `damaged entry: ${escapeBytes(path)}: ${damage}; `
        + `${hasContent ? 'it is not restorable' : 'a restore gives it back without its attributes'} (the next backup reads it again)`);
    const shown = damaged.length === 0 ? backup
      : { ...backup, labels: { ...backup.labels, warnings: [...damaged, ...(backup.labels.warnings ? [backup.labels.warnings] : [])].join('\n') } };
    await writeWithBackpressure(call, { backup: backupSummaryOf(shown, isDeletable(context.store, backup)), entries: [] });
    const batcher = new MessageBatcher<EntryMeta>({ maxItems: SHOW_BATCH, maxBytes: ENTRY_BATCH_BYTES },
      (entries) => writeWithBackpressure(call, { entries }));
    for (const entry of context.store.entries(backup)) {
      if (call.cancelled) return;
      const meta = entryMetaOf(entry);
      await batcher.add(meta, entryBatchBytes(meta));
    }
    await batcher.flush();
    call.end();
  } catch (error) {
    failStreamingCall(call, error, context.logger, 'show');
  }
}

export function handleDelete(context: ServerContext, call: grpc.ServerUnaryCall<DeleteRequest, DeleteResponse>, callback: grpc.sendUnaryData<DeleteResponse>): void {
  try {
    const caller = authenticate(call, context.clients);
    requireRight(caller, 'canDelete');
    const clientName = targetClientName(caller, call.request.clientName, 'delete');
    const backup = committedBackup(context.store, clientName, call.request.backupId);
    // Before --force is considered: a protected backup is kept until someone unprotects it, on purpose.
    if (backup.isProtected) {
      throw new AuthError(`backup ${backup.number} of client "${clientName}" is protected; unprotect it first `
        + `(cpsbackup --unprotect ${backup.number}, or cpsbackup-server unprotect ${clientName} ${backup.number})`);
    }
    const backups = context.store.listBackups(clientName);
    if (backups.at(-1)?.id === backup.id && !call.request.force) {
      throw new AuthError(`backup ${backup.number} is the newest backup of client "${clientName}"; deleting it needs --force`);
    }
    // Partial backups hold only changes on top of every backup of their chain before them: without
    // one of those they cannot be loaded (a middle partial gone, the next one misses its changes).
    const dependents = dependentPartials(backups, backup);
    const isPartialBase = backup.kind === BackupKind.BACKUP_KIND_PARTIAL;
    const standingOn = (partials: readonly BackupRecord[], which: string): string => {
      const numbers = partials.map((partial) => partial.number).join(', ');
      const backups = partials.length === 1 ? `${which}backup ${numbers}` : `${which}backups ${numbers}`;
      return isPartialBase ? `is a link the later ${backups} ${partials.length === 1 ? 'stands' : 'stand'} on` : `is the base of ${backups}`;
    };
    if (dependents.length > 0 && !call.request.force) {
      throw new AuthError(`backup ${backup.number} of client "${clientName}" ${standingOn(dependents, 'partial ')}; `
        + `deleting it needs --force, which deletes ${dependents.length === 1 ? 'it' : 'them'} too`);
    }
    const protectedDependents = dependents.filter((partial) => partial.isProtected);
    if (protectedDependents.length > 0) {
      throw new AuthError(`backup ${backup.number} of client "${clientName}" ${standingOn(protectedDependents, 'protected partial ')}; unprotect them first`);
    }
    const unreferencedBytes = context.store.deleteBackups([backup, ...dependents]);
    context.logger.info(`backup ${backup.number} of ${clientName} deleted by request`
      + `${dependents.length > 0 ? `, with the partial backups on it: ${dependents.map((partial) => partial.number).join(', ')}` : ''}`
      + `; ${unreferencedBytes} bytes of its data no longer referenced`);
    // The deletion is made and final; the reply goes before the GC it makes due. What GC frees, and how long it
    // takes, are store-wide: they depend on whether other clients hold the same bytes (and on what they deleted),
    // so the caller hears neither. A GC that fails (a full disk) is logged and retried by a later run (maintenance.ts).
    // Every backup deleted is named to the caller, not only the one asked for: --force takes the partials on it too.
    callback(null, { unreferencedBytes, deletedBackupIds: [backup.number, ...dependents.map((partial) => partial.number)] });
    context.maintenance.collectAfterDeletion(`deleting backup ${backup.number} of ${clientName}`);
  } catch (error) {
    callback(toServiceError(error, context.logger, 'delete'));
  }
}

/**
 * Protecting needs client_can_list, as its reply is the backup's summary (what -l shows: without the right,
 * asking for each number listed them all); unprotecting needs client_can_delete too (it lets retention delete).
 */
export function handleProtect(context: ServerContext, call: grpc.ServerUnaryCall<ProtectRequest, BackupSummary>, callback: grpc.sendUnaryData<BackupSummary>): void {
  try {
    const caller = authenticate(call, context.clients);
    // Unprotecting was refused as "may not protect a backup" without client_can_list, and named client_can_delete only once that was set.
    if (call.request.isProtected) requireRight(caller, 'canList', 'protect a backup (the reply shows it as -l does)');
    else requireRights(caller, ['canList', 'canDelete'], 'unprotect a backup (the reply shows it as -l does, and retention may then delete it)');
    const clientName = targetClientName(caller, call.request.clientName, 'delete');
    const backup = committedBackup(context.store, clientName, call.request.backupId);
    context.store.setProtected(backup, call.request.isProtected);
    context.logger.info(`backup ${backup.number} of ${clientName} ${call.request.isProtected ? 'protected' : 'unprotected'} by request`);
    const updated = committedBackup(context.store, clientName, backup.number);
    callback(null, backupSummaryOf(updated, isDeletable(context.store, updated)));
  } catch (error) {
    callback(toServiceError(error, context.logger, 'protect'));
  }
}

/** The partial backups after a backup, up to the next complete one: they stand on it. */
function dependentPartials(backups: readonly BackupRecord[], base: BackupRecord): BackupRecord[] {
  const dependents: BackupRecord[] = [];
  for (const later of backups.filter((backup) => backup.number > base.number)) {
    if (later.kind !== BackupKind.BACKUP_KIND_PARTIAL) break;
    dependents.push(later);
  }
  return dependents;
}
