// The Find call: every entry of a client's backups (oldest first) whose escaped path matches a glob,
// streamed in batches with backpressure; the server holds one page of entries at a time.
import type * as grpc from '@grpc/grpc-js';
import type { FindBatch, FindRequest } from '../../proto/cpsbackup';
import type { ServerContext } from '../server-context';
import { authenticate, requireRight, targetClientName } from '../auth';
import { entryMetaOf } from '../entry-convert';
import { failStreamingCall } from '../grpc-errors';
import { writeWithBackpressure } from '../stream-write';
import { escapeBytes } from '../../common/escape-bytes';
import { compilePathGlob } from './path-glob';

const FIND_BATCH = 500;

export async function handleFind(context: ServerContext, call: grpc.ServerWritableStream<FindRequest, FindBatch>): Promise<void> {
  try {
    const caller = authenticate(call, context.clients);
    requireRight(caller, 'canList');
    const clientName = targetClientName(caller, call.request.clientName, 'read');
    const glob = compilePathGlob(call.request.pattern);
    let batch: FindBatch = { matches: [] };
    for (const backup of context.store.listBackups(clientName)) {
      for (const entry of context.store.entries(backup)) {
        if (call.cancelled) return;
        if (!glob.test(escapeBytes(entry.path))) continue;
        batch.matches.push({ backupId: backup.number, entry: entryMetaOf(entry) });
        if (batch.matches.length >= FIND_BATCH) {
          await writeWithBackpressure(call, batch);
          batch = { matches: [] };
        }
      }
    }
    if (batch.matches.length > 0) await writeWithBackpressure(call, batch);
    call.end();
  } catch (error) {
    failStreamingCall(call, error, context.logger, 'find');
  }
}
