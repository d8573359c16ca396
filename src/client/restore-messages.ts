// Turns the Restore call's message stream into whole items: the backup's summary first, then each
// entry with its content, either inline (from a batch, hash checked by the reader) or as a stream
// of Data frames ending with the sender's hash, size and any damage the server found.
import type { BackupSummary, EncodedChunk, EntryMeta, RestoreResponse } from '../proto/cpsbackup';
import { ProtocolError } from '../common/errors';
import { carriesContent } from '../common/entry-content';
import { escapeBytes } from '../common/escape-bytes';

export interface ContentEnd {
  readonly sha256: Buffer;
  readonly size: number;
  /** Non-empty: the server could not produce this content (damaged store); discard what arrived. */
  readonly damage: string;
}

/** Content arrives as bytes (from a server older than protocol 2; sha256 is then the bytes' hash) or as stored chunks. */
export type ContentPiece = Buffer | readonly EncodedChunk[];

export interface RestoreMessageItem {
  readonly meta: EntryMeta;
  /** A whole content that came inline, with its hash; undefined for streamed content or none. */
  readonly inline?: { readonly content: ContentPiece; readonly sha256: Buffer };
  /** Streamed content: its pieces, then its end; must be read to the end (or drained) before the next item. */
  readonly stream?: { frames(): AsyncGenerator<ContentPiece, ContentEnd> };
}

export async function* restoreMessageItems(responses: AsyncIterable<RestoreResponse>, onBackup: (backup: BackupSummary) => void):
  AsyncGenerator<RestoreMessageItem> {
  const iterator = responses[Symbol.asyncIterator]();
  // The call's failure (the server's status) surfaces in whichever read meets it, often one inside a
  // file, where the writer takes it for that file's failure. Kept here, it ends the restore with the
  // server's own message instead of a later read finding the finished stream.
  let callError: { readonly error: unknown } | undefined;
  const nextResponse = async (): Promise<IteratorResult<RestoreResponse>> => {
    if (callError !== undefined) throw callError.error;
    try {
      return await iterator.next();
    } catch (error) {
      callError = { error };
      throw error;
    }
  };
  let hasBackup = false;
  for (;;) {
    const next = await nextResponse();
    if (next.done) break;
    const message = next.value.message;
    if (message === undefined) throw new ProtocolError('empty restore message');
    switch (message.$case) {
      case 'backup':
        hasBackup = true;
        onBackup(message.value);
        break;
      case 'batch':
        for (const item of message.value.entries) {
          if (!item.meta) throw new ProtocolError('batched entry without metadata');
          const hasContent = carriesContent(item.meta.type) && item.meta.hardlinkTarget.length === 0;
          const content = item.chunks.length > 0 ? item.chunks : item.content;
          yield hasContent ? { meta: item.meta, inline: { content, sha256: item.sha256 } } : { meta: item.meta };
        }
        break;
      case 'entry': {
        const meta = message.value;
        if (!carriesContent(meta.type) || meta.hardlinkTarget.length > 0) {
          yield { meta };
          break;
        }
        let isRead = false;
        let end: ContentEnd | undefined;
        const frames = async function* (): AsyncGenerator<ContentPiece, ContentEnd> {
          isRead = true;
          for (;;) {
            const frame = await nextResponse();
            if (frame.done) throw new ProtocolError(`restore stream ended inside ${escapeBytes(meta.path)}`);
            const inner = frame.value.message;
            if (inner?.$case === 'data') yield inner.value.chunk;
            else if (inner?.$case === 'chunks') yield inner.value.chunks;
            else if (inner?.$case === 'entryEnd') {
              end = inner.value;
              return end;
            } else throw new ProtocolError(`unexpected ${inner?.$case ?? 'empty'} message inside ${escapeBytes(meta.path)}`);
          }
        };
        const stream = { frames };
        yield { meta, stream };
        // The consumer refused the entry, or stopped reading it (a failed write): the rest is skipped here.
        if (!isRead || end === undefined) for await (const frame of frames()) void frame;
        break;
      }
      default:
        throw new ProtocolError(`unexpected ${message.$case} message between entries`);
    }
  }
  if (!hasBackup) throw new ProtocolError('the server sent no backup header');
}
