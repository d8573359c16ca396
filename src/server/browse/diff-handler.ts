// The Diff call: what changed between two backups of one client, streamed in batches with backpressure.
import type * as grpc from '@grpc/grpc-js';
import { DiffKind, type DiffBatch, type DiffEntry, type DiffRequest } from '../../proto/cpsbackup';
import type { ServerContext } from '../server-context';
import { authenticate, requireRight, targetClientName } from '../auth';
import { committedBackup } from '../backup-lookup';
import { entryMetaOf } from '../entry-convert';
import { failStreamingCall } from '../grpc-errors';
import { peerGoneError, writeWithBackpressure } from '../stream-write';
import { NotFoundError } from '../../common/errors';
import { diffEntries } from './backup-diff';
import { LoopYield } from '../../common/loop-yield';
import { MessageBatcher } from '../../common/wire/message-batcher';
import { ENTRY_BATCH_BYTES, entryBatchBytes } from '../entry-batch-bytes';

const DIFF_BATCH = 1000;

const kindOnWire = { added: DiffKind.DIFF_KIND_ADDED, removed: DiffKind.DIFF_KIND_REMOVED, changed: DiffKind.DIFF_KIND_CHANGED } as const;

export async function handleDiff(context: ServerContext, call: grpc.ServerWritableStream<DiffRequest, DiffBatch>): Promise<void> {
  try {
    const caller = authenticate(call, context.clients);
    requireRight(caller, 'canList');
    const clientName = targetClientName(caller, call.request.clientName, 'read');
    const before = committedBackup(context.store, clientName, call.request.fromBackupId);
    const after = committedBackup(context.store, clientName, call.request.toBackupId);
    const batcher = new MessageBatcher<DiffEntry>({ maxItems: DIFF_BATCH, maxBytes: ENTRY_BATCH_BYTES },
      (entries) => writeWithBackpressure(call, { entries }));
    // Two large near-identical backups compare for long between differences: the loop turns all the same.
    // After each turn, a backup deleted meanwhile (a -d, retention) ends the call: its remaining pages read
    // empty, and the rest would be reported as added or removed. A cancelled call stops comparing.
    const loopYield = new LoopYield();
    const stillComparable = (): void => {
      if (call.cancelled) throw peerGoneError();
      for (const backup of [before, after]) {
        if (context.store.findBackup(clientName, backup.number)?.id !== backup.id) {
          throw new NotFoundError(`backup ${backup.number} of client "${clientName}" was deleted while it was compared`);
        }
      }
    };
    const pause = (): Promise<void> | undefined => loopYield.turn()?.then(stillComparable);
    for await (const difference of diffEntries(context.store.entries(before), context.store.entries(after), pause)) {
      if (call.cancelled) return;
      const entry: DiffEntry = {
        kind: kindOnWire[difference.kind],
        before: difference.before === undefined ? undefined : entryMetaOf(difference.before),
        after: difference.after === undefined ? undefined : entryMetaOf(difference.after),
        changes: [...difference.changes],
      };
      await batcher.add(entry, diffEntryBytes(entry));
    }
    await batcher.flush();
    call.end();
  } catch (error) {
    failStreamingCall(call, error, context.logger, 'diff');
  }
}

/** Its entries, and the kind and the names of what changed (a few short words). */
function diffEntryBytes(entry: DiffEntry): number {
  let bytes = 16 + (entry.before === undefined ? 0 : entryBatchBytes(entry.before)) + (entry.after === undefined ? 0 : entryBatchBytes(entry.after));
  for (const change of entry.changes) bytes += change.length + 2;
  return bytes;
}
