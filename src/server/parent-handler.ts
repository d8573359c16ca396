// The Parent call: the metadata of the client's newest backup, so the client can skip unchanged files.
import type * as grpc from '@grpc/grpc-js';
import type { EntryMeta, ParentBatch, ParentRequest } from '../proto/cpsbackup';
import type { ServerContext } from './server-context';
import { authenticate } from './auth';
import { failStreamingCall } from './grpc-errors';
import { writeWithBackpressure } from './stream-write';
import { entryMetaOf, unchangedCheckMetaOf } from './entry-convert';
import { NotFoundError } from '../common/errors';

const PARENT_BATCH = 2000;

export async function handleParent(context: ServerContext, call: grpc.ServerWritableStream<ParentRequest, ParentBatch>): Promise<void> {
  try {
    const caller = authenticate(call, context.clients);
    const backup = context.store.findBackup(caller.name, call.request.backupId);
    if (backup === undefined && call.request.backupId !== 0) throw new NotFoundError(`client "${caller.name}" has no backup ${call.request.backupId}`);
    if (backup === undefined) {
      // Still one message: it tells the client this server takes EntryBatch.
      await writeWithBackpressure(call, { backupId: 0, entries: [], acceptsBatches: true });
      call.end();
      return;
    }
    let entries: EntryMeta[] = [];
    const metaOf = call.request.unchangedCheckOnly ? unchangedCheckMetaOf : entryMetaOf;
    // A file whose stored content is damaged is left out: the client then sends it again, which heals it.
    const damaged = context.store.damagedContents();
    for (const entry of context.store.entries(backup)) {
      if (call.cancelled) return;
      if (entry.contentId === null || damaged.has(entry.contentId)) continue;
      entries.push(metaOf(entry));
      if (entries.length >= PARENT_BATCH) {
        await writeWithBackpressure(call, { backupId: backup.number, entries, acceptsBatches: true });
        entries = [];
      }
    }
    await writeWithBackpressure(call, { backupId: backup.number, entries, acceptsBatches: true });
    call.end();
  } catch (error) {
    failStreamingCall(call, error, context.logger, 'parent');
  }
}
