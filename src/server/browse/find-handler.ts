// The Find call: every entry of a client's backups (oldest first) whose escaped path matches a glob,
// streamed in batches with backpressure; the server holds one page of entries at a time, and the glob is
// matched in a worker thread (pattern/path-matcher.ts): on a long path it can cost seconds.
import type * as grpc from '@grpc/grpc-js';
import type { FindBatch, FindMatch, FindRequest } from '../../proto/cpsbackup';
import type { ServerContext } from '../server-context';
import type { StoredEntry } from '../../chunkstore/store';
import { authenticate, requireRight, targetClientName } from '../auth';
import { entryMetaOf } from '../entry-convert';
import { failStreamingCall } from '../grpc-errors';
import { writeWithBackpressure } from '../stream-write';
import { escapeBytes } from '../../common/escape-bytes';
import { LoopYield } from '../../common/loop-yield';
import { MessageBatcher } from '../../common/wire/message-batcher';
import { ENTRY_BATCH_BYTES, entryBatchBytes } from '../entry-batch-bytes';
import { PathMatcher } from '../pattern/path-matcher';
import { pathGlobSource } from './path-glob';

const FIND_BATCH = 500;
/** Entries sent to the matcher at once: one message each way per page. */
const MATCH_PAGE = 1000;

interface Candidate {
  readonly backupId: number;
  readonly entry: StoredEntry;
}

export async function handleFind(context: ServerContext, call: grpc.ServerWritableStream<FindRequest, FindBatch>): Promise<void> {
  let matcher: PathMatcher | undefined;
  let releaseSlot: (() => void) | undefined;
  const stopMatching = (): void => matcher?.close();
  call.once('cancelled', stopMatching);
  try {
    const caller = authenticate(call, context.clients);
    requireRight(caller, 'canList');
    const clientName = targetClientName(caller, call.request.clientName, 'read');
    const source = pathGlobSource(call.request.pattern);
    releaseSlot = context.patternSlots.claim(caller.name);
    const glob = new PathMatcher(source, 'the --find pattern');
    matcher = glob;
    const loopYield = new LoopYield();
    const batcher = new MessageBatcher<FindMatch>({ maxItems: FIND_BATCH, maxBytes: ENTRY_BATCH_BYTES },
      (matches) => writeWithBackpressure(call, { matches }));
    let page: Candidate[] = [];
    const matchPage = async (): Promise<void> => {
      const verdicts = await glob.match(page.map((candidate) => escapeBytes(candidate.entry.path)));
      for (const [index, candidate] of page.entries()) {
        if (verdicts[index] !== 1) continue;
        const entry = entryMetaOf(candidate.entry);
        // The backup's number and the match's own framing: a dozen bytes.
        await batcher.add({ backupId: candidate.backupId, entry }, entryBatchBytes(entry) + 16);
      }
      page = [];
    };
    for (const backup of context.store.listBackups(clientName)) {
      for (const entry of context.store.entries(backup)) {
        if (call.cancelled) return;
        page.push({ backupId: backup.number, entry });
        if (page.length >= MATCH_PAGE) await matchPage();
        // Escaping and reading rows costs time too: a long history turns the loop between pages.
        const turn = loopYield.turn();
        if (turn !== undefined) await turn;
      }
    }
    await matchPage();
    await batcher.flush();
    call.end();
  } catch (error) {
    failStreamingCall(call, error, context.logger, 'find');
  } finally {
    call.off('cancelled', stopMatching);
    matcher?.close();
    releaseSlot?.();
  }
}
