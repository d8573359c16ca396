// The Restore call: streams a backup's entries in path order with their content, each chunk
// re-read and verified; a damaged content is reported on its entry and the stream goes on.
import type * as grpc from '@grpc/grpc-js';
import type { RestoreRequest, RestoreResponse } from '../proto/cpsbackup';
import type { ServerContext } from './server-context';
import { authenticate, targetClientName } from './auth';
import { committedBackup, isDeletable } from './backup-lookup';
import { backupSummaryOf } from './backup-summary';
import { entryMetaOf } from './entry-convert';
import { toServiceError } from './grpc-errors';
import { writeWithBackpressure } from './stream-write';
import { readChunk } from '../chunkstore/pack/pack-reader';
import { PackHandles } from '../chunkstore/pack/pack-handles';
import { CorruptError, errorMessage } from '../common/errors';
import type { StoredEntry } from '../chunkstore/catalog/records';

export const MAX_DATA_FRAME = 1024 * 1024;

export async function handleRestore(context: ServerContext, call: grpc.ServerWritableStream<RestoreRequest, RestoreResponse>): Promise<void> {
  let label = 'restore';
  let release: (() => void) | undefined;
  try {
    const caller = authenticate(call, context.config.clientsDirectory);
    const clientName = targetClientName(caller, call.request.clientName, 'read');
    label = `restore by ${caller.name} of ${clientName}`;
    release = await context.store.lock.acquireShared();
    const catalog = context.store.catalog;
    const backup = committedBackup(catalog, clientName, call.request.backupId);
    label += ` backup ${backup.number}`;
    await writeWithBackpressure(call, { message: { $case: 'backup', value: backupSummaryOf(backup, isDeletable(catalog, backup)) } });
    const codec = context.store.newCodec();
    const packs = new PackHandles();
    try {
      for (const entry of catalog.entries(backup.id)) {
        if (call.cancelled) return;
        if (!isSelected(entry.path, call.request.paths)) continue;
        await writeWithBackpressure(call, { message: { $case: 'entry', value: entryMetaOf(entry) } });
        if (entry.contentId !== null) await sendContent(context, call, entry, codec, packs);
      }
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

async function sendContent(context: ServerContext, call: grpc.ServerWritableStream<RestoreRequest, RestoreResponse>,
  entry: StoredEntry, codec: ReturnType<ServerContext['store']['newCodec']>, packs: PackHandles): Promise<void> {
  const catalog = context.store.catalog;
  const content = catalog.contentById(entry.contentId!);
  let damage = '';
  let size = 0;
  try {
    if (content === undefined) throw new CorruptError(`content ${entry.contentId} is missing from the catalog`);
    for (const location of catalog.contentChunks(content.id)) {
      if (location.chunkId === null) throw new CorruptError(`chunk ${location.seq} is missing from the catalog`);
      const raw = await readChunk(context.store.directory, location, codec, packs);
      size += raw.length;
      for (let offset = 0; offset < raw.length; offset += MAX_DATA_FRAME) {
        await writeWithBackpressure(call, { message: { $case: 'data', value: { chunk: raw.subarray(offset, offset + MAX_DATA_FRAME) } } });
      }
    }
    // Each chunk was verified on read; the whole-content hash is checked by the client, which
    // must check it anyway, so hashing it here too would only double the CPU per byte.
    if (size !== content.size) throw new CorruptError(`reassembled content is ${size} bytes, recorded ${content.size}`);
  } catch (error) {
    if (!(error instanceof CorruptError)) throw error;
    damage = `${entry.path}: ${errorMessage(error)}`;
    context.logger.error(`damaged content: ${damage}`);
  }
  await writeWithBackpressure(call, {
    message: { $case: 'entryEnd', value: { sha256: content?.hash ?? Buffer.alloc(0), size: content?.size ?? 0, damage } },
  });
}

/** No filter selects everything; a filter path selects itself and everything below it. */
function isSelected(path: string, filters: readonly string[]): boolean {
  return filters.length === 0 || filters.some((filter) => path === filter || path.startsWith(filter.endsWith('/') ? filter : `${filter}/`));
}
