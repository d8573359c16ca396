// The Upload call: authenticates, claims a slot, feeds messages to an UploadSession, and
// abandons the session on any error, cancellation or idle timeout so nothing half-done is visible.
import type * as grpc from '@grpc/grpc-js';
import type { UploadRequest, UploadResponse } from '../proto/cpsbackup';
import type { ServerContext } from './server-context';
import { authenticate, requireRight } from './auth';
import { requireParentAccess } from './parent-access';
import { UploadSession } from './upload-session';
import { failStreamingCall } from './grpc-errors';
import { backupSummaryOf } from './backup-summary';
import { BackupError, BusyError, LimitError, ProtocolError, errorMessage } from '../common/errors';
import { cutReasonOf, markCommitting } from './running-calls';
import { writeWithBackpressure } from './stream-write';
import { admitBackup } from './quota/admission';
import { FreeSpaceWatch } from './quota/free-space-watch';

export async function handleUpload(context: ServerContext, call: grpc.ServerDuplexStream<UploadRequest, UploadResponse>): Promise<void> {
  let clientName = '?';
  let session: UploadSession | undefined;
  let isCommitted = false;
  try {
    const caller = authenticate(call, context.clients);
    clientName = caller.name;
    // A "server busy" refusal is recorded: the status port and the notifier must hear of it (a client
    // refused every night looked ok for ever). "Already running" is not: that backup reports its own.
    context.activity.claimOrRecordRefusal(clientName, refusalReason);
    const progress = context.activity.progress(clientName)!;
    try {
      // Before the session: a refused backup leaves no row, no pack, nothing to abandon.
      const storedLimit = await admitBackup(context, clientName);
      session = new UploadSession(context.store, clientName, progress,
        (response) => writeWithBackpressure(call, { message: response }), storedLimit);
      const freeSpace = new FreeSpaceWatch(context, clientName);
      // Not call[Symbol.asyncIterator](): it destroys the stream when the client half-closes, and a destroyed
      // stream can no longer send the status, so a client that ended without Commit waited forever.
      const iterator = call.iterator({ destroyOnReturn: false }) as AsyncIterator<UploadRequest>;
      for (;;) {
        const next = await nextWithin(iterator, context.config.idleTimeoutSeconds * 1000, () => new LimitError(
          `no data from client "${clientName}" for ${context.config.idleTimeoutSeconds} s; backup abandoned`));
        if (next.done) break;
        const request = next.value as UploadRequest;
        // The daemon's scheduled runs are burp's timed backups; anything else is a forced one.
        if (request.message?.$case === 'begin' && !request.message.value.isScheduled) requireRight(caller, 'canForceBackup');
        if (request.message?.$case === 'begin') requireParentAccess(caller, context.store, { backupId: request.message.value.parentBackupId, isUnchangedCheckOnly: true });
        // From here the store commits whatever the client hears: a stop waits for it instead of cutting it.
        if (request.message?.$case === 'commit') markCommitting(call);
        const committed = await session.handle(next.value as UploadRequest);
        if (!committed) await freeSpace.check(session.writtenBytes);
        if (committed) {
          isCommitted = true;
          context.activity.finish({ clientName, backupNumber: committed.number, isSuccess: true, at: Date.now() });
          context.logger.info(`backup ${committed.number} of ${clientName} committed: ${committed.files} files, ${committed.newBytes} new bytes`);
          await writeWithBackpressure(call, { message: { $case: 'committed', value: backupSummaryOf(committed, false) } });
          break;
        }
        if (session.backupNumber !== undefined && (next.value as UploadRequest).message?.$case === 'begin') {
          const moved = session.hostChange;
          if (moved !== undefined) {
            context.logger.warn(`backup ${session.backupNumber} of ${clientName} comes from host ${moved.host}, its backup ${moved.previousNumber} `
              + `from ${moved.previousHost}: a moved node, or two nodes with one certificate, whose backups then share one history and its keep counts`);
          }
          // The store's chunker and compression: a client that chunks its own data must cut it the same way.
          const { name, minSize, avgSize, maxSize } = context.store.chunker;
          await writeWithBackpressure(call, { message: { $case: 'beginAck', value: {
            sessionId: session.backupNumber,
            chunking: { chunker: name, minSize, avgSize, maxSize, compressionLevel: context.store.compressionLevel },
          } } });
        }
      }
      if (!isCommitted) throw new ProtocolError(`client "${clientName}" closed the stream before committing; backup discarded`);
      call.end();
    } catch (caught) {
      // A client that vanished (killed, network cut) is an interruption, not an internal server error.
      const isDisconnected = call.cancelled || (caught as NodeJS.ErrnoException)?.code === 'ERR_STREAM_PREMATURE_CLOSE';
      // A stopping server that cut the call (running-calls.ts) ends it as cancelled too: the log must not blame the client.
      const cutReason = cutReasonOf(call);
      const error = cutReason !== undefined && !isCommitted ? new BusyError(cutReason)
        : isDisconnected && !isCommitted
          ? new BackupError('INTERRUPTED', `client "${clientName}" disconnected before committing`, { cause: caught }) : caught;
      const droppedNumber = isCommitted ? undefined : session?.backupNumber;
      // Said before the cleanup, which seals the open pack and syncs it and the catalog: on a slow disk
      // that takes a while, and the log must tell a cleanup in progress from a disconnect not noticed.
      if (droppedNumber !== undefined) context.logger.info(`backup ${droppedNumber} of ${clientName} stopped (${errorMessage(error)}); dropping it`);
      const cleanupStartedAt = performance.now();
      await session?.abandon(caught);
      const cleanupSeconds = (performance.now() - cleanupStartedAt) / 1000;
      // What its stored packs held is garbage now: collected at once, beside whatever else runs.
      if (session?.backupNumber !== undefined) context.maintenance.scheduleGarbageCollection();
      if (!isCommitted) {
        if (droppedNumber !== undefined) {
          context.logger.warn(`backup ${droppedNumber} of ${clientName} abandoned: ${errorMessage(error)}${cleanupSeconds >= 1 ? ` (dropping it took ${cleanupSeconds.toFixed(1)} s)` : ''}`);
        }
        context.activity.finish({ clientName, backupNumber: session?.backupNumber ?? 0, isSuccess: false, at: Date.now(), reason: refusalReason(error), kind: session?.kind });
      }
      // Committed, and the client gone before it read the reply: the backup stands (retention runs on), and
      // the client may report a failure although it is there.
      if (!isDisconnected || !isCommitted) throw error;
      context.logger.warn(`backup ${session?.backupNumber} of ${clientName} committed, but the client disconnected before it read the reply: `
        + 'it may report a failure (and a daemon try again) although the backup is there');
    }
    // The client has its answer before retention runs: a deletion of 20,572 files' entries takes ~60 ms
    // here (0.6 s before deletions stopped reading all of the client's remaining entries), and
    // synchronously after end() it delayed the reply that long.
    await new Promise<void>((resolve) => setImmediate(resolve));
    context.maintenance.afterCommit(clientName);
  } catch (error) {
    if (!isCommitted) failStreamingCall(call, error, context.logger, `upload from ${clientName}`);
    else context.logger.error(`after commit for ${clientName}: ${errorMessage(error)}`);
  }
}

/** The operator's reason (notification, status details): it carries what only the log may show. */
function refusalReason(error: unknown): string {
  const logDetail = error instanceof BackupError ? error.logDetail : undefined;
  return `${errorMessage(error)}${logDetail === undefined ? '' : ` (${logDetail})`}`;
}

/** The next message, or a rejection once the peer has been silent for idleMs (a stalled or stopped client). */
async function nextWithin<T>(iterator: AsyncIterator<T>, idleMs: number, makeError: () => Error): Promise<IteratorResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      iterator.next(),
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(makeError()), idleMs); }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
