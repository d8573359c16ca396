// The Parent call: the metadata of the client's newest backup, so the client can skip unchanged files
// (another backup, or full entries, only with client_can_list: parent-access.ts).
import type * as grpc from '@grpc/grpc-js';
import type { EntryMeta, ParentBatch, ParentRequest } from '../proto/cpsbackup';
import type { ServerContext } from './server-context';
import { authenticate } from './auth';
import { requireParentAccess } from './parent-access';
import { failStreamingCall } from './grpc-errors';
import { writeWithBackpressure } from './stream-write';
import { entryMetaOf, unchangedCheckMetaOf } from './entry-convert';
import { NotFoundError } from '../common/errors';
import { LoopYield } from '../common/loop-yield';
import { MessageBatcher } from '../common/wire/message-batcher';
import { ENTRY_BATCH_BYTES, entryBatchBytes } from './entry-batch-bytes';

/** Small enough that the client's walk starts on the first batch while the rest is read. */
const PARENT_BATCH = 500;

interface ParentEntry {
  readonly meta: EntryMeta;
  readonly isDamaged: boolean;
}

export async function handleParent(context: ServerContext, call: grpc.ServerWritableStream<ParentRequest, ParentBatch>): Promise<void> {
  try {
    const caller = authenticate(call, context.clients);
    requireParentAccess(caller, context.store, { backupId: call.request.backupId, isUnchangedCheckOnly: call.request.unchangedCheckOnly });
    const backup = context.store.findBackup(caller.name, call.request.backupId);
    if (backup === undefined && call.request.backupId !== 0) throw new NotFoundError(`client "${caller.name}" has no backup ${call.request.backupId}`);
    if (backup === undefined) {
      // Still one message: it tells the client this server takes EntryBatch.
      await writeWithBackpressure(call, { backupId: 0, entries: [], acceptsBatches: true, acceptsCarriedRuns: true, keepsInodeFlags: true, damaged: [] });
      call.end();
      return;
    }
    const { store } = context;
    const damaged = store.damagedContents(backup.clientId);
    const isMarking = call.request.marksDamaged;
    const metas = call.request.unchangedCheckOnly
      ? withContent(store.unchangedCheckEntries(backup), damaged, isMarking, unchangedCheckMetaOf)
      : withContent(store.entries(backup), damaged, isMarking, entryMetaOf);
    // Rows are read and written without waiting for I/O while the client keeps up: without a turn of the
    // event loop now and then, no batch left before the last was made, and the client's Begin waited too.
    const loop = new LoopYield();
    let isSent = false;
    const send = async (items: readonly ParentEntry[]): Promise<void> => {
      const damagedIndexes = items.flatMap((item, index) => (item.isDamaged ? [index] : []));
      await writeWithBackpressure(call, {
        backupId: backup.number, entries: items.map((item) => item.meta), acceptsBatches: true, acceptsCarriedRuns: true, keepsInodeFlags: true, damaged: damagedIndexes,
      });
      isSent = true;
      await loop.turn();
    };
    const batcher = new MessageBatcher<ParentEntry>({ maxItems: PARENT_BATCH, maxBytes: ENTRY_BATCH_BYTES }, send);
    for (const item of metas) {
      if (call.cancelled) return;
      // A damaged index takes a few bytes more.
      await batcher.add(item, entryBatchBytes(item.meta) + 5);
    }
    await batcher.flush();
    // At least one message: it names the backup, and tells the client this server takes EntryBatch.
    if (!isSent) await send([]);
    call.end();
  } catch (error) {
    failStreamingCall(call, error, context.logger, 'parent');
  }
}

/**
 * The entries with content. One whose content is damaged is left out, so the client sends that file
 * again (which heals it), or, for a client that marks them, listed as damaged: it then also knows
 * that no carried run may span it.
 */
function* withContent<T extends { readonly contentId: number | null }>(
  entries: Iterable<T>, damaged: ReadonlySet<number>, isMarking: boolean, metaOf: (entry: T) => EntryMeta,
): Generator<ParentEntry> {
  for (const entry of entries) {
    if (entry.contentId === null) continue;
    const isDamaged = damaged.has(entry.contentId);
    if (!isDamaged || isMarking) yield { meta: metaOf(entry), isDamaged };
  }
}
