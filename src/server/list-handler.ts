// The List call: a client's backups, oldest first, in batches cut under a byte budget. One message
// held them all before, and a client with a mark per table on ~150 backups outgrew gRPC's 4 MiB cap.
// A client older than batches still gets that one message while its list fits in one.
import type * as grpc from '@grpc/grpc-js';
import type { BackupRecord } from '../chunkstore/store';
import type { BackupSummary, ListBatch, ListRequest } from '../proto/cpsbackup';
import type { ServerContext } from './server-context';
import { authenticate, requireRight, targetClientName } from './auth';
import { backupSummaryOf, summaryBytesBound } from './backup-summary';
import { isDeletableAmong } from './backup-lookup';
import { ByteBoundedWriter } from './byte-bounded-writer';
import { failStreamingCall } from './grpc-errors';
import { ProtocolError } from '../common/errors';
import { MessageBatcher } from '../common/wire/message-batcher';
import { OLDER_CLIENT_LIST_BYTES, singleMessageList } from './single-message-list';

/**
 * A batch is sent once it takes this much: with the one summary that tips it over (at most ~2 MiB, the
 * per-backup caps of received-begin.ts and received-text.ts) it stays under the 4 MiB message cap.
 */
const LIST_BATCH_BYTES = 1024 * 1024;
/** Summaries without labels take ~60 bytes: this many make a message of ~60 KiB. */
const LIST_BATCH_BACKUPS = 1000;
/** Batches queued in grpc-js, by bytes: grpc-js alone waits only at 16 messages, whatever their size. */
const MAX_UNSENT_BYTES = 4 * 1024 * 1024;

export async function handleList(context: ServerContext, call: grpc.ServerWritableStream<ListRequest, ListBatch>): Promise<void> {
  try {
    const caller = authenticate(call, context.clients);
    requireRight(caller, 'canList');
    const clientName = targetClientName(caller, call.request.clientName, 'read');
    const backups = context.store.listBackups(clientName);
    if (!call.request.readsBatches) {
      answerOlderClient(call, caller.name, clientName, backups, (backup, index) => backupSummaryOf(backup, isDeletableAmong(backups, index)));
      return;
    }
    const writer = new ByteBoundedWriter<ListBatch>(call, (batch) => batchBytesBound(batch.backups), MAX_UNSENT_BYTES);
    let isLast = false;
    const batcher = new MessageBatcher<BackupSummary>({ maxItems: LIST_BATCH_BACKUPS, maxBytes: LIST_BATCH_BYTES },
      (summaries) => writer.write({ backups: summaries, isLast }));
    for (const [index, backup] of backups.entries()) {
      if (call.cancelled) return;
      // Deletable exactly when -d without --force would delete it.
      const summary = backupSummaryOf(backup, isDeletableAmong(backups, index));
      await batcher.add(summary, summaryBytesBound(summary));
    }
    isLast = true;
    // The last batch says so, even when it holds nothing: a stream that ends without it is not the whole list.
    if (batcher.size > 0) await batcher.flush();
    else await writer.write({ backups: [], isLast });
    call.end();
  } catch (error) {
    failStreamingCall(call, error, context.logger, 'list');
  }
}

/**
 * An older client reads one message as the whole list: a stream of exactly one message is that on the
 * wire (ListBatch's field 1 is the old ListResponse's). Refusing it even a short list broke -l, partial
 * backups, receive and chain restores on every node not yet upgraded; only a list it cannot take is refused.
 */
function answerOlderClient(call: grpc.ServerWritableStream<ListRequest, ListBatch>, callerName: string, clientName: string,
  backups: readonly BackupRecord[], summaryOf: (backup: BackupRecord, index: number) => BackupSummary): void {
  const summaries = singleMessageList(backups, summaryOf, OLDER_CLIENT_LIST_BYTES);
  if (summaries === undefined) {
    const whose = clientName === callerName ? 'its' : `client "${clientName}"'s`;
    throw new ProtocolError(`client "${callerName}" runs a cpsbackup older than this server's, which reads the list of backups `
      + `as one message, and ${whose} list of ${backups.length} backups is too long for one (more than ${OLDER_CLIENT_LIST_BYTES} bytes); `
      + 'install the server\'s version of cpsbackup on that node');
  }
  if (call.cancelled) return;
  call.write({ backups: summaries, isLast: true });
  call.end();
}

function batchBytesBound(summaries: readonly BackupSummary[]): number {
  let bytes = 0;
  for (const summary of summaries) bytes += summaryBytesBound(summary);
  return bytes;
}
