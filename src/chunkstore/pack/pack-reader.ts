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
export async function readChunk(storeDirectory: string, location: ChunkLocation, codec: ChunkCodec, handles?: PackHandles): Promise<Buffer> {
  const path = packPath(storeDirectory, location.packName);
  const where = `chunk ${location.hash.toString('hex')} in pack ${location.packName} at offset ${location.offset}`;
  let handle: FileHandle;
  try {
    handle = handles ? await handles.get(path) : await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new CorruptError(`${where}: pack file is missing`);
    throw error;
  }
  try {
    const length = RECORD_HEADER_SIZE + location.storedSize;
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await handle.read(buffer, 0, length, location.offset);
    if (bytesRead !== length) throw new CorruptError(`${where}: pack is truncated (read ${bytesRead} of ${length} bytes)`);
    const header = decodeRecordHeader(buffer.subarray(0, RECORD_HEADER_SIZE));
    if (!header || header.storedSize !== location.storedSize || !header.hash.equals(location.hash)) {
      throw new CorruptError(`${where}: record header does not match the catalog`);
    }
    const raw = codec.decode(header.codec, buffer.subarray(RECORD_HEADER_SIZE), location.rawSize);
    if (!sha256(raw).equals(location.hash)) throw new CorruptError(`${where}: content does not match its hash`);
    return raw;
  } catch (error) {
    if (error instanceof CorruptError && !error.message.startsWith(where)) throw new CorruptError(`${where}: ${error.message}`);
    throw error;
  } finally {
    if (!handles) await handle.close();
  }
}
