// Sends one page of a backup's entries: folders, links and small files (read in runs, whole)
// go in EntryBatch messages; bigger files stream as Entry, Data frames and EntryEnd. A damaged
// content is reported on its entry's EntryEnd and the restore goes on.
import type * as grpc from '@grpc/grpc-js';
import type { EntryMeta, RestoreRequest, RestoreResponse } from '../proto/cpsbackup';
import type { EntriesPage, ListedContent } from '../chunkstore/catalog/catalog';
import type { ChunkLocation, StoredEntry } from '../chunkstore/catalog/records';
import type { ChunkCodec } from '../chunkstore/codec';
import type { PackHandles } from '../chunkstore/pack/pack-handles';
import type { EntryBatcher } from '../common/wire/entry-batcher';
import type { Logger } from '../common/logger';
import { ChunkRunReader } from '../chunkstore/pack/chunk-run-reader';
import { readChunk } from '../chunkstore/pack/pack-reader';
import { CorruptError, errorMessage } from '../common/errors';
import { entryMetaOf } from './entry-convert';
import { writeWithBackpressure } from './stream-write';
import { MAX_DATA_FRAME, PreparedData } from '../common/wire/fast-service';
import type { Catalog } from '../chunkstore/catalog/catalog';

/** Contents up to this size travel whole inside a batch; bigger ones stream in Data frames. */
export const INLINE_MAX_CONTENT = 1024 * 1024;

const NOTHING = Buffer.alloc(0);

export interface RestorePageContext {
  readonly call: grpc.ServerWritableStream<RestoreRequest, RestoreResponse>;
  readonly catalog: Catalog;
  readonly storeDirectory: string;
  readonly codec: ChunkCodec;
  readonly packs: PackHandles;
  /** undefined for a client that predates EntryBatch: every entry then goes as Entry (+ Data + EntryEnd). */
  readonly batcher: EntryBatcher | undefined;
  readonly logger: Logger;
}

/** One chunk of a content, read and verified when decoded: into a given buffer of rawSize bytes, or a new one. */
interface ChunkToDecode {
  readonly rawSize: number;
  decode(into?: Buffer): Promise<Buffer>;
}

/** Where the chunks of one content come from: the page's run reader, or the catalog one by one. */
type ChunkSource = AsyncIterable<ChunkToDecode>;

export async function sendRestorePage(context: RestorePageContext, page: EntriesPage, isSelected: (path: string) => boolean): Promise<void> {
  const entries = page.entries.filter((entry) => isSelected(entry.path));
  // Every listed chunk of the page, in the order the entries will ask for them.
  const locations: ChunkLocation[] = [];
  const firstChunk = new Map<StoredEntry, number>();
  for (const entry of entries) {
    const chunks = entry.contentId === null ? undefined : page.contents.get(entry.contentId)?.chunks;
    if (chunks === undefined || chunks.includes(null)) continue;
    firstChunk.set(entry, locations.length);
    locations.push(...(chunks as ChunkLocation[]));
  }
  const reader = new ChunkRunReader(context.storeDirectory, locations, context.codec, context.packs);
  for (const entry of entries) {
    if (context.call.cancelled) return;
    const meta = entryMetaOf(entry);
    if (entry.contentId === null) {
      await sendWhole(context, entry, meta, undefined);
      continue;
    }
    const content = page.contents.get(entry.contentId);
    const start = firstChunk.get(entry);
    const listed = start === undefined ? undefined : listedChunks(reader, content!.chunks as ChunkLocation[], start);
    if (content !== undefined && listed !== undefined && content.size <= INLINE_MAX_CONTENT) {
      const whole: Buffer | CorruptError = await assembleWhole(listed, content).catch((error: unknown) => {
        if (error instanceof CorruptError) return error;
        throw error;
      });
      if (!(whole instanceof CorruptError)) {
        await sendWhole(context, entry, meta, { bytes: whole, content });
        continue;
      }
      await startEntry(context, meta);
      await endEntry(context, entry, content, damageOf(entry, whole));
      continue;
    }
    await startEntry(context, meta);
    await streamContent(context, entry, content, listed);
  }
}

/** An entry without content, or with its whole content at hand: batched, or as its own messages for an older client. */
async function sendWhole(context: RestorePageContext, entry: StoredEntry, meta: EntryMeta, whole: { bytes: Buffer; content: ListedContent } | undefined): Promise<void> {
  if (context.batcher) {
    await context.batcher.add({ meta, sameAsParent: false, content: whole?.bytes ?? NOTHING, sha256: whole?.content.hash ?? NOTHING });
    return;
  }
  await startEntry(context, meta);
  if (whole === undefined) return;
  await sendDataFrames(context, whole.bytes);
  await endEntry(context, entry, whole.content, '');
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

async function* listedChunks(reader: ChunkRunReader, locations: readonly ChunkLocation[], start: number): AsyncGenerator<ChunkToDecode> {
  for (let index = start; index < start + locations.length; index++) {
    yield { rawSize: locations[index - start].rawSize, decode: (into) => reader.chunkAt(index, into) };
  }
}

async function* catalogChunks(context: RestorePageContext, content: ListedContent): AsyncGenerator<ChunkToDecode> {
  for (const location of context.catalog.contentChunks(content.id)) {
    if (location.chunkId === null) throw new CorruptError(`chunk ${location.seq} is missing from the catalog`);
    yield { rawSize: location.rawSize, decode: (into) => readChunk(context.storeDirectory, location, context.codec, context.packs, into) };
  }
}

async function assembleWhole(chunks: ChunkSource, content: ListedContent): Promise<Buffer> {
  const listed: ChunkToDecode[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    listed.push(chunk);
    size += chunk.rawSize;
  }
  if (size !== content.size) throw new CorruptError(`reassembled content is ${size} bytes, recorded ${content.size}`);
  if (listed.length === 1) return listed[0].decode();
  const whole = Buffer.allocUnsafe(size);
  await decodeInto(listed, whole);
  return whole;
}

/** Decodes the chunks one after another into `target`, each straight into its place (decode checks it fills exactly rawSize bytes). */
async function decodeInto(chunks: readonly ChunkToDecode[], target: Buffer): Promise<void> {
  let offset = 0;
  for (const chunk of chunks) {
    await chunk.decode(target.subarray(offset, offset + chunk.rawSize));
    offset += chunk.rawSize;
  }
}

async function streamContent(context: RestorePageContext, entry: StoredEntry, content: ListedContent | undefined, listed: ChunkSource | undefined): Promise<void> {
  let damage = '';
  try {
    if (content === undefined) throw new CorruptError(`content ${entry.contentId} is missing from the catalog`);
    if (content.chunks?.includes(null)) throw new CorruptError(`chunk ${content.chunks.indexOf(null)} is missing from the catalog`);
    let size = 0;
    // Chunks go out gathered into frames of up to MAX_DATA_FRAME (a message per 128 KiB chunk cost
    // more in framing), each decoded straight into its place in the serialized message.
    let gathered: ChunkToDecode[] = [];
    let gatheredBytes = 0;
    const sendGathered = async (): Promise<void> => {
      const chunks = gathered;
      const frame = new PreparedData(gatheredBytes);
      gathered = [];
      gatheredBytes = 0;
      await decodeInto(chunks, frame.chunk);
      await writeWithBackpressure(context.call, { message: { $case: 'data', value: frame } });
    };
    for await (const chunk of listed ?? catalogChunks(context, content)) {
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
    damage = damageOf(entry, error);
  }
  await endEntry(context, entry, content, damage);
}

function damageOf(entry: StoredEntry, error: CorruptError): string {
  return `${entry.path}: ${errorMessage(error)}`;
}

async function endEntry(context: RestorePageContext, entry: StoredEntry, content: ListedContent | undefined, damage: string): Promise<void> {
  if (damage) context.logger.error(`damaged content: ${damage}`);
  await writeWithBackpressure(context.call, {
    message: { $case: 'entryEnd', value: { sha256: content?.hash ?? NOTHING, size: content?.size ?? 0, damage } },
  });
}
