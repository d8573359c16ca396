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

/** Small enough that the client's walk starts on the first batch while the rest is read. */
const PARENT_BATCH = 500;

export async function handleParent(context: ServerContext, call: grpc.ServerWritableStream<ParentRequest, ParentBatch>): Promise<void> {
  try {
    const caller = authenticate(call, context.clients);
    requireParentAccess(caller, context.store, { backupId: call.request.backupId, isUnchangedCheckOnly: call.request.unchangedCheckOnly });
    const backup = context.store.findBackup(caller.name, call.request.backupId);
    if (backup === undefined && call.request.backupId !== 0) throw new NotFoundError(`client "${caller.name}" has no backup ${call.request.backupId}`);
    if (backup === undefined) {
      // Still one message: it tells the client this server takes EntryBatch.
      await writeWithBackpressure(call, { backupId: 0, entries: [], acceptsBatches: true, acceptsCarriedRuns: true, damaged: [] });
      call.end();
      return;
    }
    let entries: EntryMeta[] = [];
    let damagedIndexes: number[] = [];
    const { store } = context;
    const damaged = store.damagedContents();
    const isMarking = call.request.marksDamaged;
    const metas = call.request.unchangedCheckOnly
      ? withContent(store.unchangedCheckEntries(backup), damaged, isMarking, unchangedCheckMetaOf)
      : withContent(store.entries(backup), damaged, isMarking, entryMetaOf);
    // Rows are read and written without waiting for I/O while the client keeps up: without a turn of the
    // event loop now and then, no batch left before the last was made, and the client's Begin waited too.
    const loop = new LoopYield();
    const send = (): Promise<void> => writeWithBackpressure(call, {
      backupId: backup.number, entries, acceptsBatches: true, acceptsCarriedRuns: true, damaged: damagedIndexes,
    });
    for (const { meta, isDamaged } of metas) {
      if (call.cancelled) return;
      if (isDamaged) damagedIndexes.push(entries.length);
      entries.push(meta);
      if (entries.length >= PARENT_BATCH) {
        await send();
        entries = [];
        damagedIndexes = [];
        await loop.turn();
      }
    }
    await send();
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
): Generator<{ meta: EntryMeta; isDamaged: boolean }> {
  for (const entry of entries) {
    if (entry.contentId === null) continue;
    const isDamaged = damaged.has(entry.contentId);
    if (!isDamaged || isMarking) yield { meta: metaOf(entry), isDamaged };
  }
}
