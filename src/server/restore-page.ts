// Sends one page of restore items. Folders, links and small files go in EntryBatch messages; bigger
// files as Entry, their content, then EntryEnd. A protocol-2 client gets the content as stored chunks
// and decodes and checks them itself (restore-stored-content.ts); an older one gets bytes decoded here
// with the hash of the whole file (restore-decoded-content.ts). A damaged content is reported on its
// entry's EntryEnd and the restore goes on.
import type * as grpc from '@grpc/grpc-js';
import type { EncodedChunk, EntryMeta, RestoreRequest, RestoreResponse } from '../proto/cpsbackup';
import type { RestoreItem, StoredEntry } from '../chunkstore/read';
import type { EntryBatcher } from '../common/wire/entry-batcher';
import type { Logger } from '../common/logger';
import { batchedEntry } from '../common/wire/batched-entry';
import { CorruptError, errorMessage } from '../common/errors';
import { escapeBytes } from '../common/escape-bytes';
import { entryMetaOf } from './entry-convert';
import { peerGoneError } from './stream-write';
import type { ByteBoundedWriter } from './byte-bounded-writer';
import { INLINE_MAX_CONTENT } from '../common/wire/fast-service';
import { storedChunksOf, streamStoredContent } from './restore-stored-content';
import { decodedWholeOf, streamDecodedContent } from './restore-decoded-content';
import type { LoopYield } from '../common/loop-yield';

const NOTHING = Buffer.alloc(0);

export interface RestorePageContext {
  readonly call: grpc.ServerWritableStream<RestoreRequest, RestoreResponse>;
  /** Where every message of the call goes, with backpressure by bytes. */
  readonly output: ByteBoundedWriter<RestoreResponse>;
  /** undefined for a client that predates EntryBatch: every entry then goes as Entry (+ Data + EntryEnd). */
  readonly batcher: EntryBatcher | undefined;
  readonly logger: Logger;
  /** RestoreRequest.protocol_version: 2 takes stored chunks and writes holes back; older clients take bytes. */
  readonly protocolVersion: number;
  /**
   * The call's turns of the event loop: a page's small files come from pack runs already read and go out while the
   * client's window is open, so a page of 1,000 ran without a turn (seconds on a busy machine, no ping answered).
   */
  readonly loopYield: LoopYield;
}

export async function sendRestorePage(context: RestorePageContext, items: readonly RestoreItem[]): Promise<void> {
  for (const item of items) {
    const turn = context.loopYield.turn();
    if (turn !== undefined) await turn;
    if (context.call.cancelled) throw peerGoneError();
    const { entry } = item;
    const meta = entryMetaOf(entry, item.hardlinkTo);
    if (entry.contentId === null || item.hardlinkTo !== undefined) {
      await sendBatched(context, meta, undefined);
      continue;
    }
    const isStored = context.protocolVersion >= 2;
    if (item.content === undefined || (entry.extents.length > 0 && !isStored)) {
      const reason = item.damage ?? 'a sparse file: restore it with cpsbackup 0.2 or later, which writes its holes back';
      await startEntry(context, meta);
      await endEntry(context, NOTHING, 0, damageOf(entry, reason));
      continue;
    }
    const content = item.content;
    if (content.size <= INLINE_MAX_CONTENT && context.batcher !== undefined) {
      try {
        const whole = isStored ? { chunks: await storedChunksOf(content), sha256: content.hash } : await decodedWholeOf(content);
        await sendBatched(context, meta, whole);
        continue;
      } catch (error) {
        if (!(error instanceof CorruptError)) throw error;
        await startEntry(context, meta);
        await endEntry(context, NOTHING, 0, damageOf(entry, errorMessage(error)));
        continue;
      }
    }
    await startEntry(context, meta);
    const sent = isStored ? await streamStoredContent(context.output, content) : await streamDecodedContent(context.output, content);
    await endEntry(context, sent.sha256, content.size, sent.damage === undefined ? '' : damageOf(entry, sent.damage));
  }
}

/** An entry without content, or with its whole content at hand, in a batch (or alone for a client that predates batches). */
async function sendBatched(context: RestorePageContext, meta: EntryMeta,
  whole: { bytes?: Buffer; chunks?: EncodedChunk[]; sha256: Buffer } | undefined): Promise<void> {
  if (context.batcher) {
    await context.batcher.add(batchedEntry(meta, { content: whole?.bytes, chunks: whole?.chunks, sha256: whole?.sha256 }));
    return;
  }
  await startEntry(context, meta);
}

/** An Entry message of its own; whatever was batched before it goes first. */
async function startEntry(context: RestorePageContext, meta: EntryMeta): Promise<void> {
  await context.batcher?.flush();
  await context.output.write({ message: { $case: 'entry', value: meta } });
}

function damageOf(entry: StoredEntry, reason: string): string {
  return `${escapeBytes(entry.path)}: ${reason}`;
}

async function endEntry(context: RestorePageContext, sha256: Buffer, size: number, damage: string): Promise<void> {
  if (damage) context.logger.error(`damaged content: ${damage}`);
  await context.output.write({ message: { $case: 'entryEnd', value: { sha256, size, damage } } });
}
