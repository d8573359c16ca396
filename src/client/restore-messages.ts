// Turns the Restore call's message stream into whole items: the backup's summary first, then each
// entry with its content, either inline (from a batch, hash checked by the reader) or as a stream
// of Data frames ending with the sender's hash, size and any damage the server found.
import { type BackupSummary, type BatchedEntry, type EncodedChunk, type EntryBatch, type EntryMeta, type RestoreResponse } from '../proto/cpsbackup';
import { ProtocolError } from '../common/errors';
import { carriesContent } from '../common/entry-content';
import { escapeBytes } from '../common/escape-bytes';
import { isDumpEntry } from '../common/dump-entry';
import type { ChunkDecoderPool, DecodedChunk } from './restore-decoding/chunk-decoder-pool';

export interface ContentEnd {
  readonly sha256: Buffer;
  readonly size: number;
  /** Non-empty: the server could not produce this content (damaged store); discard what arrived. */
  readonly damage: string;
}

/**
 * Content arrives as bytes (from a server older than protocol 2; sha256 is then the bytes' hash) or as
 * stored chunks, decoding on a worker thread from the moment their message arrived.
 */
export type ContentPiece = Buffer | DecodingChunks;

/** Stored chunks being decoded and checked off the main thread: `decoded` has one result per chunk. */
export interface DecodingChunks {
  readonly chunks: readonly EncodedChunk[];
  readonly decoded: Promise<DecodedPiece>;
}

export interface DecodedPiece {
  readonly results: readonly DecodedChunk[];
  /** Called once every write of these bytes has completed: their buffer is then used again (see ChunkDecoderPool). */
  readonly release: () => void;
}

export interface RestoreMessageItem {
  readonly meta: EntryMeta;
  /** A whole content that came inline, with its hash; undefined for streamed content or none. */
  readonly inline?: { readonly content: ContentPiece; readonly sha256: Buffer };
  /** Streamed content: its pieces, then its end; must be read to the end (or drained) before the next item. */
  readonly stream?: { frames(): AsyncGenerator<ContentPiece, ContentEnd> };
  /** A folder sent only because something asked for lies below it (RequestedEntries). */
  readonly isAboveSelection?: true;
}

/**
 * decoder: decodes and checks stored chunks on worker threads. A batch's chunks go to it as the batch
 * arrives, and the next message is read ahead while a batch's files are written, so the next batch
 * decodes meanwhile. isSkippingDumps: the request asked for the dumps to be left out, and the server
 * must say so before its first entry; an older server would send them (ProtocolError, nothing yielded).
 */
export async function* restoreMessageItems(responses: AsyncIterable<RestoreResponse>, onBackup: (backup: BackupSummary) => void,
  decoder: ChunkDecoderPool, isSkippingDumps = false): AsyncGenerator<RestoreMessageItem> {
  const iterator = responses[Symbol.asyncIterator]();
  // The call's failure (the server's status) surfaces in whichever read meets it, often one inside a
  // file, where the writer takes it for that file's failure. Kept here, it ends the restore with the
  // server's own message instead of a later read finding the finished stream.
  let callError: { readonly error: unknown } | undefined;
  /** A message read ahead (a batch already decoding), or the failure met reading it. */
  let ahead: { readonly next: IteratorResult<RestoreResponse>; readonly items?: RestoreMessageItem[] } | undefined;
  const nextResponse = async (): Promise<IteratorResult<RestoreResponse>> => {
    if (callError !== undefined) throw callError.error;
    try {
      return await iterator.next();
    } catch (error) {
      callError = { error };
      throw error;
    }
  };
  const readAhead = async (): Promise<void> => {
    let next: IteratorResult<RestoreResponse>;
    try {
      next = await nextResponse();
    } catch {
      return; // kept in callError: the next read meets it, after this batch's files are written
    }
    const message = next.done ? undefined : next.value.message;
    ahead = { next, items: message?.$case === 'batch' ? batchItems(message.value, decoder) : undefined };
  };
  let hasBackup = false;
  let isAwaitingDumpsLeftOut = isSkippingDumps;
  for (;;) {
    let next: IteratorResult<RestoreResponse>;
    let items: RestoreMessageItem[] | undefined;
    if (ahead !== undefined) {
      ({ next, items } = ahead);
      ahead = undefined;
    } else {
      next = await nextResponse();
    }
    if (next.done) break;
    const message = next.value.message;
    if (message === undefined) throw new ProtocolError('empty restore message');
    if (isAwaitingDumpsLeftOut && message.$case !== 'backup' && message.$case !== 'skippingFifoContent') throw dumpsNotLeftOut();
    // Nothing is written before the server says which backup it sends: a restore refused at its end for
    // a missing header had written (and then kept) the entries before it.
    if (!hasBackup && message.$case !== 'backup') throw new ProtocolError(`the server sent ${message.$case} before its backup header: nothing restored`);
    switch (message.$case) {
      case 'backup':
        if (hasBackup) throw new ProtocolError('the server sent a second backup header');
        hasBackup = true;
        onBackup(message.value);
        break;
      case 'skippingFifoContent':
        if (!isAwaitingDumpsLeftOut || !hasBackup || !message.value) throw new ProtocolError('unexpected skipping_fifo_content message');
        isAwaitingDumpsLeftOut = false;
        break;
      case 'batch': {
        const batch = items ?? batchItems(message.value, decoder);
        if (isSkippingDumps) for (const item of batch) refuseDump(item.meta);
        await readAhead();
        yield* batch;
        break;
      }
      case 'entry': {
        const meta = message.value;
        if (isSkippingDumps) refuseDump(meta);
        if (!carriesContent(meta.type) || meta.hardlinkTarget.length > 0) {
          yield { meta };
          break;
        }
        let isRead = false;
        let end: ContentEnd | undefined;
        // Each frame is yielded only once the next one is read and decoding: the worker decodes frame
        // k+1 while frame k is written. Skipping (isSkipped) reads to the entry's end, decoding nothing.
        const frames = async function* (isSkipped = false): AsyncGenerator<ContentPiece, ContentEnd> {
          isRead = true;
          let waiting: ContentPiece | undefined;
          for (;;) {
            const frame = await nextResponse();
            if (frame.done) throw new ProtocolError(`restore stream ended inside ${escapeBytes(meta.path)}`);
            const inner = frame.value.message;
            if (inner?.$case === 'entryEnd') {
              // Known before the last frame goes: a writer that fails on it must not drain past the entry's end.
              end = inner.value;
              if (waiting !== undefined) yield waiting;
              return end;
            }
            if (inner?.$case !== 'data' && inner?.$case !== 'chunks') {
              throw new ProtocolError(`unexpected ${inner?.$case ?? 'empty'} message inside ${escapeBytes(meta.path)}`);
            }
            if (isSkipped) continue;
            const piece = inner.$case === 'data' ? inner.value.chunk : decodingPiece(inner.value.chunks, decoder);
            if (waiting !== undefined) yield waiting;
            waiting = piece;
          }
        };
        const stream = { frames: () => frames() };
        yield { meta, stream };
        // The consumer refused the entry, or stopped reading it (a failed write): the rest is skipped here.
        if (!isRead || end === undefined) for await (const frame of frames(true)) void frame;
        break;
      }
      default:
        throw new ProtocolError(`unexpected ${message.$case} message between entries`);
    }
  }
  if (!hasBackup) throw new ProtocolError('the server sent no backup header');
  if (isAwaitingDumpsLeftOut) throw dumpsNotLeftOut();
}

/** The server said it leaves the dumps out: one sent all the same is not written where the files go. */
function refuseDump(meta: EntryMeta): void {
  if (isDumpEntry(meta)) {
    throw new ProtocolError(`the server sent the dump ${escapeBytes(meta.path)} although asked to leave the dumps out: nothing more restored`);
  }
}

function dumpsNotLeftOut(): ProtocolError {
  return new ProtocolError('the server does not leave the dumps out of a restore (it is older than this client): '
    + 'nothing restored, rather than the dumps written as files with the rest; upgrade the server');
}

function decodingPiece(chunks: readonly EncodedChunk[], decoder: ChunkDecoderPool): DecodingChunks {
  const decoded = decoder.decode(chunks).then(({ results, releases }) => ({ results, release: releases[0] }));
  decoded.catch(() => undefined); // awaited by the writer, if it writes this frame
  return { chunks, decoded };
}

/** Whether an entry's bytes are written (a file or dump, not a hard link to one already restored). */
function hasContent(meta: EntryMeta): boolean {
  return carriesContent(meta.type) && meta.hardlinkTarget.length === 0;
}

/** A batch's entries; all their stored chunks start decoding at once, in one request. */
function batchItems(batch: EntryBatch, decoder: ChunkDecoderPool): RestoreMessageItem[] {
  // Thrown when the batch is read, before any of its entries is written: a malformed batch is refused whole.
  if (batch.entries.some((item) => !item.meta)) throw new ProtocolError('batched entry without metadata');
  const writesChunks = (item: BatchedEntry): boolean => hasContent(item.meta!) && item.chunks.length > 0;
  // Each entry that writes chunks is a user of the group's bytes, with a release of its own.
  const decoding = decoder.decode(batch.entries.flatMap((item) => item.chunks), batch.entries.filter(writesChunks).length);
  let first = 0;
  let user = 0;
  return batch.entries.map((item) => {
    const meta = item.meta!;
    const start = first;
    first += item.chunks.length;
    if (!hasContent(meta)) return { meta };
    if (item.chunks.length === 0) return { meta, inline: { content: item.content, sha256: item.sha256 } };
    const userIndex = user++;
    const decoded = decoding.then(({ results, releases }) => ({ results: results.slice(start, start + item.chunks.length), release: releases[userIndex] }));
    decoded.catch(() => undefined); // awaited by the writer, if it writes this entry
    return { meta, inline: { content: { chunks: item.chunks, decoded }, sha256: item.sha256 } };
  });
}
