// The Parent call: the metadata of the client's newest backup, so the client can skip unchanged files.
import type * as grpc from '@grpc/grpc-js';
import type { EntryMeta, ParentBatch, ParentRequest } from '../proto/cpsbackup';
import type { ServerContext } from './server-context';
import { authenticate } from './auth';
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
    const backup = context.store.findBackup(caller.name, call.request.backupId);
    if (backup === undefined && call.request.backupId !== 0) throw new NotFoundError(`client "${caller.name}" has no backup ${call.request.backupId}`);
    if (backup === undefined) {
      // Still one message: it tells the client this server takes EntryBatch.
      await writeWithBackpressure(call, { backupId: 0, entries: [], acceptsBatches: true, acceptsCarriedRuns: true });
      call.end();
      return;
    }
    let entries: EntryMeta[] = [];
    const { store } = context;
    const damaged = store.damagedContents();
    const metas = call.request.unchangedCheckOnly
      ? withSoundContent(store.unchangedCheckEntries(backup), damaged, unchangedCheckMetaOf)
      : withSoundContent(store.entries(backup), damaged, entryMetaOf);
    // Rows are read and written without waiting for I/O while the client keeps up: without a turn of the
    // event loop now and then, no batch left before the last was made, and the client's Begin waited too.
    const loop = new LoopYield();
    for (const meta of metas) {
      if (call.cancelled) return;
      entries.push(meta);
      if (entries.length >= PARENT_BATCH) {
        await writeWithBackpressure(call, { backupId: backup.number, entries, acceptsBatches: true, acceptsCarriedRuns: true });
        entries = [];
        await loop.turn();
      }
    }
    await writeWithBackpressure(call, { backupId: backup.number, entries, acceptsBatches: true, acceptsCarriedRuns: true });
    call.end();
  } catch (error) {
    failStreamingCall(call, error, context.logger, 'parent');
  }
}

/**
 * The entries a client may take a file as unchanged by: with content, and not a damaged one (the
 * client then sends that file again, which heals it).
 */
function* withSoundContent<T extends { readonly contentId: number | null }>(
  entries: Iterable<T>, damaged: ReadonlySet<number>, metaOf: (entry: T) => EntryMeta,
): Generator<EntryMeta> {
  for (const entry of entries) if (entry.contentId !== null && !damaged.has(entry.contentId)) yield metaOf(entry);
}
