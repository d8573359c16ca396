// The Backup service definition with a fast path for the messages that carry file content.
// ts-proto's generic encoder copies a Data frame's bytes three times; this writes each frame
// with one copy, which halves the allocation (and garbage collection) per byte moved, and decodes
// Data and EntryBatch content as views into the received message (batch-codec.ts).
import { makeGenericClientConstructor, type ChannelCredentials, type ClientOptions } from '@grpc/grpc-js';
import { BackupService, RestoreResponse, UploadRequest, type BackupClient, type ChunkBatch, type Data, type EntryBatch } from '../../proto/cpsbackup';
import { deserializeParentBatch, serializeParentBatch } from './parent-batch-codec';
import { FieldReader, decodeBatch, decodeChunkBatch, encodeBatchMessage, encodeChunkBatchMessage } from './batch-codec';
import { varintLength, writeVarint } from './varint';

/** The most file content one Data message carries, either way. */
export const MAX_DATA_FRAME = 1024 * 1024;

/**
 * File content a sender lets wait unsent in grpc-js before it waits itself, either way (restore on the
 * server, upload on the client): grpc-js alone waits only at 16 queued messages of any size.
 */
export const MAX_UNSENT_CONTENT = 4 * 1024 * 1024;

/**
 * A file up to this size travels whole, inline in an EntryBatch, either way; bigger ones stream in
 * Data frames. One threshold for both sides: the receiver sizes its buffers by it.
 */
export const INLINE_MAX_CONTENT = 1024 * 1024;

/** In both UploadRequest and RestoreResponse the Data message is field 3 of the oneof. */
const DATA_FIELD = 3;
const DATA_FIELD_TAG = (DATA_FIELD << 3) | 2;
/** In Data, the bytes are field 1. */
const CHUNK_FIELD_TAG = (1 << 3) | 2;
/** EntryBatch is field 7 of UploadRequest's oneof and field 5 of RestoreResponse's; ChunkBatch 9 and 6. */
const UPLOAD_BATCH_FIELD = 7;
const RESTORE_BATCH_FIELD = 5;
const UPLOAD_CHUNKS_FIELD = 9;
const RESTORE_CHUNKS_FIELD = 6;

/**
 * A Data message serialized before its content is filled in: restore decodes chunks and backup
 * reads files straight into `chunk`, a view into `message`, which the serializer sends as it is.
 */
export class PreparedData implements Data {
  readonly message: Buffer;
  readonly chunk: Buffer;

  constructor(length: number) {
    const innerLength = 1 + varintLength(length) + length;
    this.message = Buffer.allocUnsafe(1 + varintLength(innerLength) + innerLength);
    let offset = 0;
    this.message[offset++] = DATA_FIELD_TAG;
    offset = writeVarint(this.message, offset, innerLength);
    this.message[offset++] = CHUNK_FIELD_TAG;
    offset = writeVarint(this.message, offset, length);
    this.chunk = this.message.subarray(offset);
  }
}

/** Encodes `{ data: { chunk } }` exactly as protobuf would, copying the chunk once. */
export function encodeDataMessage(chunk: Uint8Array): Buffer {
  if (chunk.length === 0) return Buffer.from([DATA_FIELD_TAG, 0]); // proto3 leaves empty bytes out
  const prepared = new PreparedData(chunk.length);
  prepared.chunk.set(chunk);
  return prepared.message;
}

function encodeData(data: Data): Buffer {
  return data instanceof PreparedData && data.chunk.length > 0 ? data.message : encodeDataMessage(data.chunk);
}

function decodeData(bytes: Buffer): Data {
  let chunk: Buffer = Buffer.alloc(0);
  const reader = new FieldReader(bytes);
  while (!reader.isDone) {
    const { field, wireType } = reader.tag();
    if (field === 1 && wireType === 2) chunk = reader.bytes();
    else reader.skip(wireType);
  }
  return { chunk };
}

type ContentMessage = { $case: 'data'; value: Data } | { $case: 'batch'; value: EntryBatch } | { $case: 'chunks'; value: ChunkBatch };

/**
 * A message that is only a Data, an EntryBatch or a ChunkBatch, decoded without copying content;
 * undefined for anything else (the generated decoder handles it).
 */
function decodeContentMessage(buffer: Buffer, batchField: number, chunksField: number): ContentMessage | undefined {
  const reader = new FieldReader(buffer);
  if (reader.isDone) return undefined;
  const { field, wireType } = reader.tag();
  if (wireType !== 2 || (field !== DATA_FIELD && field !== batchField && field !== chunksField)) return undefined;
  const body = reader.bytes();
  if (!reader.isDone) return undefined;
  if (field === DATA_FIELD) return { $case: 'data', value: decodeData(body) };
  return field === batchField ? { $case: 'batch', value: decodeBatch(body) } : { $case: 'chunks', value: decodeChunkBatch(body) };
}

export function serializeUploadRequest(value: UploadRequest): Buffer {
  if (value.message?.$case === 'data') return encodeData(value.message.value);
  if (value.message?.$case === 'batch') return encodeBatchMessage((UPLOAD_BATCH_FIELD << 3) | 2, value.message.value);
  if (value.message?.$case === 'chunks') return encodeChunkBatchMessage((UPLOAD_CHUNKS_FIELD << 3) | 2, value.message.value);
  return Buffer.from(UploadRequest.encode(value).finish());
}

export function deserializeUploadRequest(buffer: Buffer): UploadRequest {
  const message = decodeContentMessage(buffer, UPLOAD_BATCH_FIELD, UPLOAD_CHUNKS_FIELD);
  return message ? { message } as UploadRequest : UploadRequest.decode(buffer);
}

export function serializeRestoreResponse(value: RestoreResponse): Buffer {
  if (value.message?.$case === 'data') return encodeData(value.message.value);
  if (value.message?.$case === 'batch') return encodeBatchMessage((RESTORE_BATCH_FIELD << 3) | 2, value.message.value);
  if (value.message?.$case === 'chunks') return encodeChunkBatchMessage((RESTORE_CHUNKS_FIELD << 3) | 2, value.message.value);
  return Buffer.from(RestoreResponse.encode(value).finish());
}

/** The scratch buffer of serializeRestoreResponseTransient: one message's bytes at a time, reused by the next. */
let restoreScratch: Buffer = Buffer.alloc(0);
/** Scratch sizes are whole granules; a bigger message than this gets a buffer of its own, not kept. */
const SCRATCH_GRANULE = 256 * 1024;
const MAX_SCRATCH = 4 * 1024 * 1024;

function restoreScratchOf(size: number): Buffer {
  if (size > MAX_SCRATCH) return Buffer.allocUnsafe(size);
  if (restoreScratch.length < size) restoreScratch = Buffer.allocUnsafeSlow(Math.ceil(size / SCRATCH_GRANULE) * SCRATCH_GRANULE);
  return restoreScratch.subarray(0, size);
}

/**
 * As serializeRestoreResponse, but a batch or chunk batch is written into a scratch buffer that the next
 * call writes over: the server's serializer only. grpc-js's server copies what its serializer returns into
 * the message's frame at once, before anything else runs (ServerInterceptingCall.serializeMessage, pinned by
 * wire-fast-service.test.ts), so a restore's content is no longer in one new buffer per message that garbage
 * collection must then find and free (a restore of 512 MiB: 160 MiB of them).
 */
export function serializeRestoreResponseTransient(value: RestoreResponse): Buffer {
  if (value.message?.$case === 'batch') return encodeBatchMessage((RESTORE_BATCH_FIELD << 3) | 2, value.message.value, restoreScratchOf);
  if (value.message?.$case === 'chunks') return encodeChunkBatchMessage((RESTORE_CHUNKS_FIELD << 3) | 2, value.message.value, restoreScratchOf);
  return serializeRestoreResponse(value);
}

export function deserializeRestoreResponse(buffer: Buffer): RestoreResponse {
  const message = decodeContentMessage(buffer, RESTORE_BATCH_FIELD, RESTORE_CHUNKS_FIELD);
  return message ? { message } as RestoreResponse : RestoreResponse.decode(buffer);
}

export const FastBackupService = {
  ...BackupService,
  upload: {
    ...BackupService.upload,
    requestSerialize: serializeUploadRequest,
    requestDeserialize: deserializeUploadRequest,
  },
  parent: {
    ...BackupService.parent,
    responseSerialize: serializeParentBatch,
    responseDeserialize: deserializeParentBatch,
  },
  restore: {
    ...BackupService.restore,
    responseSerialize: serializeRestoreResponseTransient,
    responseDeserialize: deserializeRestoreResponse,
  },
} as const;

export const FastBackupClient = makeGenericClientConstructor(FastBackupService, 'cpsbackup.v1.Backup') as unknown as {
  new (address: string, credentials: ChannelCredentials, options?: Partial<ClientOptions>): BackupClient;
};
