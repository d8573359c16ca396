// Sends one page of restore items: folders, links and small files (read whole) go in EntryBatch
// messages; bigger files stream as Entry, Data frames and EntryEnd. A damaged content is reported
// on its entry's EntryEnd and the restore goes on.
import type * as grpc from '@grpc/grpc-js';
import type { EntryMeta, RestoreRequest, RestoreResponse } from '../proto/cpsbackup';
import type { ContentSource, RestoreItem, StoredEntry } from '../chunkstore/read';
import type { EntryBatcher } from '../common/wire/entry-batcher';
import { batchedEntry } from '../common/wire/batched-entry';
import type { Logger } from '../common/logger';
import { CorruptError, errorMessage } from '../common/errors';
import { entryMetaOf } from './entry-convert';
import { writeWithBackpressure } from './stream-write';
import { INLINE_MAX_CONTENT, MAX_DATA_FRAME, PreparedData } from '../common/wire/fast-service';
import { escapeBytes } from '../common/escape-bytes';

const NOTHING = Buffer.alloc(0);

export interface RestorePageContext {
  readonly call: grpc.ServerWritableStream<RestoreRequest, RestoreResponse>;
  /** undefined for a client that predates EntryBatch: every entry then goes as Entry (+ Data + EntryEnd). */
  readonly batcher: EntryBatcher | undefined;
  readonly logger: Logger;
  /** RestoreRequest.protocol_version: below 2 the client cannot write holes back. */
  readonly protocolVersion: number;
}

export async function sendRestorePage(context: RestorePageContext, items: readonly RestoreItem[]): Promise<void> {
  for (const item of items) {
    if (context.call.cancelled) return;
    const { entry } = item;
    const meta = entryMetaOf(entry, item.hardlinkTo);
    if (entry.contentId === null || item.hardlinkTo !== undefined) {
      await sendWhole(context, meta, undefined);
      continue;
    }
    if (item.content === undefined || (entry.extents.length > 0 && context.protocolVersion < 2)) {
      const reason = item.damage ?? 'a sparse file: restore it with cpsbackup 0.2 or later, which writes its holes back';
      await startEntry(context, meta);
      await endEntry(context, entry, undefined, damageOf(entry, reason));
      continue;
    }
    const content = item.content;
    if (content.size <= INLINE_MAX_CONTENT) {
      const whole = await content.readWhole().catch((error: unknown) => {
        if (error instanceof CorruptError) return error;
        throw error;
      });
      if (!(whole instanceof CorruptError)) {
        await sendWhole(context, meta, { bytes: whole, hash: content.hash });
        continue;
      }
      await startEntry(context, meta);
      await endEntry(context, entry, content, damageOf(entry, errorMessage(whole)));
      continue;
    }
    await startEntry(context, meta);
    await streamContent(context, entry, content);
  }
}

/** An entry without content, or with its whole content at hand: batched, or as its own messages for an older client. */
async function sendWhole(context: RestorePageContext, meta: EntryMeta, whole: { bytes: Buffer; hash: Buffer } | undefined): Promise<void> {
  if (context.batcher) {
    await context.batcher.add(batchedEntry(meta, { content: whole?.bytes, sha256: whole?.hash }));
    return;
  }
  await startEntry(context, meta);
  if (whole === undefined) return;
  await sendDataFrames(context, whole.bytes);
  await writeWithBackpressure(context.call, { message: { $case: 'entryEnd', value: { sha256: whole.hash, size: whole.bytes.length, damage: '' } } });
}

/** An Entry message of its own; whatever was batched before it goes first. */
async function startEntry(context: RestorePageContext, meta: EntryMeta): Promise<void> {
  await context.batcher?.flush();
  await writeWithBackpressure(context.call, { message: { $case: 'entry', value: meta } });
}

async function sendDataFrames(context: RestorePageContext, bytes: Buffer): Promise<void> {
  for (let offset = 0; offset < bytes.length; offset += MAX_DATA_FRAME) {
    await writeWithBackpressure(context.call, { message: { $case: 'data', value: { chunk: bytes.subarray(offset, offset + MAX_DATA_FRAME) } } });
  }
}

async function streamContent(context: RestorePageContext, entry: StoredEntry, content: ContentSource): Promise<void> {
  let damage = '';
  try {
    let size = 0;
    // Chunks go out gathered into frames of up to MAX_DATA_FRAME (a message per 128 KiB chunk cost
    // more in framing), each decoded straight into its place in the serialized message.
    let gathered: { rawSize: number; decode(into?: Buffer): Promise<Buffer> }[] = [];
    let gatheredBytes = 0;
    const sendGathered = async (): Promise<void> => {
      const chunks = gathered;
      const frame = new PreparedData(gatheredBytes);
      gathered = [];
      gatheredBytes = 0;
      let offset = 0;
      for (const chunk of chunks) {
        await chunk.decode(frame.chunk.subarray(offset, offset + chunk.rawSize));
        offset += chunk.rawSize;
      }
      await writeWithBackpressure(context.call, { message: { $case: 'data', value: frame } });
    };
    for await (const chunk of content.chunks()) {
      size += chunk.rawSize;
      if (chunk.rawSize > MAX_DATA_FRAME) {
        // A store made with chunks bigger than a frame: decoded alone, sent in frame-sized slices.
        if (gatheredBytes > 0) await sendGathered();
        await sendDataFrames(context, await chunk.decode());
        continue;
      }
      if (gatheredBytes + chunk.rawSize > MAX_DATA_FRAME) await sendGathered();
      gathered.push(chunk);
      gatheredBytes += chunk.rawSize;
    }
    if (gatheredBytes > 0) await sendGathered();
    // Each chunk was verified on read; the whole-content hash is checked by the client, which
    // must check it anyway, so hashing it here too would only double the CPU per byte.
    if (size !== content.size) throw new CorruptError(`reassembled content is ${size} bytes, recorded ${content.size}`);
  } catch (error) {
    if (!(error instanceof CorruptError)) throw error;
    damage = damageOf(entry, errorMessage(error));
  }
  await endEntry(context, entry, content, damage);
}

function damageOf(entry: StoredEntry, reason: string): string {
  return `${escapeBytes(entry.path)}: ${reason}`;
}

async function endEntry(context: RestorePageContext, entry: StoredEntry, content: ContentSource | undefined, damage: string): Promise<void> {
  if (damage) context.logger.error(`damaged content: ${damage}`);
  await writeWithBackpressure(context.call, {
    message: { $case: 'entryEnd', value: { sha256: content?.hash ?? NOTHING, size: content?.size ?? 0, damage } },
  });
}
