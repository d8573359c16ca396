// The Restore call: streams a backup's entries in path order with their content, page by page
// (restore-page.ts), each chunk read and verified by the store's reader.
import type * as grpc from '@grpc/grpc-js';
import type { RestoreRequest, RestoreResponse } from '../proto/cpsbackup';
import type { ServerContext } from './server-context';
import { authenticate, requireRight, targetClientName } from './auth';
import { committedBackup, isDeletable } from './backup-lookup';
import { backupSummaryOf } from './backup-summary';
import { failStreamingCall } from './grpc-errors';
import { peerGoneError } from './stream-write';
import { ByteBoundedWriter } from './byte-bounded-writer';
import { EntryBatcher } from '../common/wire/entry-batcher';
import { sendRestorePage } from './restore-page';
import { RestoreSelection } from './restore-selection';
import { foldersHoldingDumps } from './dump-folders';
import { PathMatcher } from './pattern/path-matcher';
import { InvalidPatternError } from '../common/errors';
import { restoreContentBytes } from './restore-content-bytes';
import { MAX_UNSENT_CONTENT } from '../common/wire/fast-service';
import { LoopYield } from '../common/loop-yield';

export async function handleRestore(context: ServerContext, call: grpc.ServerWritableStream<RestoreRequest, RestoreResponse>): Promise<void> {
  let label = 'restore';
  let releaseSlot: (() => void) | undefined;
  try {
    const caller = authenticate(call, context.clients);
    requireRight(caller, 'canRestore');
    const clientName = targetClientName(caller, call.request.clientName, 'read');
    label = `restore by ${caller.name} of ${clientName}`;
    const backup = committedBackup(context.store, clientName, call.request.backupId);
    label += ` backup ${backup.number}`;
    const output = new ByteBoundedWriter(call, restoreContentBytes, MAX_UNSENT_CONTENT);
    await output.write({ message: { $case: 'backup', value: backupSummaryOf(backup, isDeletable(context.store, backup)) } });
    const batcher = call.request.acceptsBatches
      ? new EntryBatcher((batch) => output.write({ message: { $case: 'batch', value: batch } })) : undefined;
    const matcher = restorePatternMatcher(call.request.pathRegex);
    if (matcher !== undefined) releaseSlot = context.patternSlots.claim(caller.name);
    // Read before the first entry is sent: a folder comes before the dumps that decide whether it is sent alone.
    const dumpFolders = call.request.skipFifoContent
      ? await foldersHoldingDumps(context.store.unchangedCheckEntries(backup), `backup ${backup.number} of client "${clientName}"`) : undefined;
    const selection = await RestoreSelection.create(call.request.paths, matcher, caller.name, dumpFolders);
    if (call.request.skipFifoContent) await output.write({ message: { $case: 'skippingFifoContent', value: true } });
    const protocolVersion = call.request.protocolVersion;
    // Indexing 100,000 named paths takes turns: a client gone meanwhile gets no reader lease nor a page matched.
    if (call.cancelled) throw peerGoneError();
    const reader = context.store.openReader(backup, {
      select: (entries) => selection.select(entries),
      // An older client cannot make links: it gets each link's content again.
      linksHardlinks: protocolVersion >= 2,
      stripsComponents: call.request.strip,
    });
    // A cancelled call stops its pattern's worker at once, even in the middle of one costly path.
    const stopMatching = (): void => matcher?.close();
    call.once('cancelled', stopMatching);
    const loopYield = new LoopYield();
    try {
      for await (const page of reader.pages()) {
        // Thrown, not returned: the server log must say a restore was cut short, wherever the client left it.
        if (call.cancelled) throw peerGoneError();
        await sendRestorePage({ call, output, batcher, logger: context.logger, protocolVersion, loopYield }, selection.filter(page));
      }
      await batcher?.flush();
    } finally {
      call.off('cancelled', stopMatching);
      matcher?.close();
      reader.close();
    }
    call.end();
  } catch (error) {
    failStreamingCall(call, error, context.logger, label);
  } finally {
    releaseSlot?.();
  }
}

/** Longer than any pattern a person types; a longer one is refused before the backup is read. */
export const MAX_RESTORE_PATTERN_LENGTH = 4096;

function restorePatternMatcher(pathRegex: string): PathMatcher | undefined {
  if (pathRegex === '') return undefined;
  if (pathRegex.length > MAX_RESTORE_PATTERN_LENGTH) {
    throw new InvalidPatternError(`the restore pattern (-r) is ${pathRegex.length} characters long, more than the ${MAX_RESTORE_PATTERN_LENGTH} allowed`);
  }
  return new PathMatcher(pathRegex, 'the restore pattern');
}
