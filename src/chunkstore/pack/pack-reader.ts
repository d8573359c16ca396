// Reads one chunk back from its pack and proves it is the chunk asked for (header and SHA-256).
// A short read or a hash mismatch is corruption, named with pack and offset; other I/O errors pass through.
import { open, type FileHandle } from 'node:fs/promises';
import type { PackHandles } from './pack-handles';
import type { ChunkLocation } from '../catalog/records';
import { decodeRecordHeader, RECORD_HEADER_SIZE } from './pack-format';
import { packPath } from './pack-files';
import { type ChunkCodec, sha256 } from '../codec';
import { CorruptError } from '../../common/errors';

/** With `handles`, the pack stays open for the next read (the caller closes the cache); without, it is closed here. */
export async function readChunk(storeDirectory: string, location: ChunkLocation, codec: ChunkCodec, handles?: PackHandles, into?: Buffer): Promise<Buffer> {
  return verifyRecord(await readRecord(storeDirectory, location, handles), location, codec, into);
}

/** A chunk's record (header and payload) as it lies in its pack, shorter if the pack ends early; not verified. */
async function readRecord(storeDirectory: string, location: ChunkLocation, handles?: PackHandles): Promise<Buffer> {
  const path = packPath(storeDirectory, location.packName);
  let handle: FileHandle;
  try {
    handle = handles ? await handles.get(path) : await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new CorruptError(`${chunkWhere(location)}: pack file is missing`);
    throw error;
  }
  try {
    const length = RECORD_HEADER_SIZE + location.storedSize;
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await handle.read(buffer, 0, length, location.offset);
    return buffer.subarray(0, bytesRead);
  } finally {
    if (!handles) await handle.close();
  }
}

/** Where a chunk lives, for error messages. */
export function chunkWhere(location: ChunkLocation): string {
  return `chunk ${location.hash.toString('hex')} in pack ${location.packName} at offset ${location.offset}`;
}

/**
 * Decodes one record read from a pack (header and payload; shorter when the pack ended early) and
 * proves it is the chunk the catalog describes. Throws CorruptError naming pack and offset.
 * With `into` (rawSize bytes) the chunk is decoded there; what it holds is undefined after a throw.
 */
export function verifyRecord(record: Buffer, location: ChunkLocation, codec: ChunkCodec, into?: Buffer): Buffer {
  const where = chunkWhere(location);
  const length = RECORD_HEADER_SIZE + location.storedSize;
  if (record.length < length) throw new CorruptError(`${where}: pack is truncated (read ${record.length} of ${length} bytes)`);
  const header = decodeRecordHeader(record.subarray(0, RECORD_HEADER_SIZE));
  if (!header || header.storedSize !== location.storedSize || !header.hash.equals(location.hash)) {
    throw new CorruptError(`${where}: record header does not match the catalog`);
  }
  let raw: Buffer;
  try {
    raw = codec.decode(header.codec, record.subarray(RECORD_HEADER_SIZE, length), location.rawSize, into);
  } catch (error) {
    if (error instanceof CorruptError) throw new CorruptError(`${where}: ${error.message}`);
    throw error;
  }
  if (!sha256(raw).equals(location.hash)) throw new CorruptError(`${where}: content does not match its hash`);
  return raw;
}
