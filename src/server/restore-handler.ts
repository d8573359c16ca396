// The Restore call: streams a backup's entries in path order with their content, page by page
// (restore-page.ts), each chunk re-read and verified.
import type * as grpc from '@grpc/grpc-js';
import type { RestoreRequest, RestoreResponse } from '../proto/cpsbackup';
import type { ServerContext } from './server-context';
import { authenticate, targetClientName } from './auth';
import { committedBackup, isDeletable } from './backup-lookup';
import { backupSummaryOf } from './backup-summary';
import { toServiceError } from './grpc-errors';
import { writeWithBackpressure } from './stream-write';
import { PackHandles } from '../chunkstore/pack/pack-handles';
import { EntryBatcher } from '../common/wire/entry-batcher';
import { sendRestorePage } from './restore-page';

const ENTRY_PAGE_SIZE = 1000;
/** Contents up to this size come with their chunk list in the page query (and are read in runs). */
const LISTED_CHUNKS_UP_TO = 16 * 1024 * 1024;

export async function handleRestore(context: ServerContext, call: grpc.ServerWritableStream<RestoreRequest, RestoreResponse>): Promise<void> {
  let label = 'restore';
  let release: (() => void) | undefined;
  try {
    const caller = authenticate(call, context.clients);
    const clientName = targetClientName(caller, call.request.clientName, 'read');
    label = `restore by ${caller.name} of ${clientName}`;
    release = await context.store.lock.acquireShared();
    const catalog = context.store.catalog;
    const backup = committedBackup(catalog, clientName, call.request.backupId);
    label += ` backup ${backup.number}`;
    await writeWithBackpressure(call, { message: { $case: 'backup', value: backupSummaryOf(backup, isDeletable(catalog, backup)) } });
    const packs = new PackHandles();
    const batcher = call.request.acceptsBatches
      ? new EntryBatcher((batch) => writeWithBackpressure(call, { message: { $case: 'batch', value: batch } })) : undefined;
    const pageContext = {
      call, catalog, storeDirectory: context.store.directory, codec: context.store.newCodec(), packs, batcher, logger: context.logger,
    };
    const selected = (path: string): boolean => isSelected(path, call.request.paths);
    try {
      let after = '';
      for (;;) {
        if (call.cancelled) return;
        const page = catalog.entriesWithContents(backup.id, after, ENTRY_PAGE_SIZE, LISTED_CHUNKS_UP_TO);
        if (page.entries.length === 0) break;
        await sendRestorePage(pageContext, page, selected);
        after = page.entries[page.entries.length - 1].path;
      }
      await batcher?.flush();
    } finally {
      await packs.close();
    }
    call.end();
  } catch (error) {
    // Not destroy(): grpc-js 1.14 sends the status only from end(), so a destroyed stream leaves the client waiting forever.
    call.emit('error', toServiceError(error, context.logger, label));
  } finally {
    release?.();
  }
}

/** No filter selects everything; a filter path selects itself and everything below it. */
function isSelected(path: string, filters: readonly string[]): boolean {
  return filters.length === 0 || filters.some((filter) => path === filter || path.startsWith(filter.endsWith('/') ? filter : `${filter}/`));
}
