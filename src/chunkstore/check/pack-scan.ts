// Walks every chunk row in pack order and proves its record is where the catalog says: the pack
// exists, the record fits inside it, its header matches; chosen chunks are also decoded and re-hashed.
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { Catalog } from '../catalog/catalog';
import type { ChunkCodec } from '../codec';
import { sha256 } from '../codec';
import { decodeRecordHeader, RECORD_HEADER_SIZE } from '../pack/pack-format';
import { packPath } from '../pack/pack-files';
import { errorMessage } from '../../common/errors';
import type { ChunkDamage } from './report';

interface ChunkRow {
  id: number;
  hash: Buffer;
  pack_id: number;
  offset: number;
  stored_size: number;
  raw_size: number;
}

interface PackState {
  readonly name: string;
  /** undefined: the pack file is missing. */
  readonly fileSize: number | undefined;
}

export interface PackScanResult {
  readonly damagedChunks: ChunkDamage[];
  readonly problems: string[];
  readonly chunks: number;
  readonly chunksRead: number;
}

const PAGE_SIZE = 1000;

/** shouldReadData decides per chunk whether its bytes are decoded and re-hashed, not only its header. */
export async function scanPacks(directory: string, catalog: Catalog, codec: ChunkCodec,
  shouldReadData: () => boolean): Promise<PackScanResult> {
  const database = catalog.sqlite;
  const packs = await packStates(directory, catalog);
  const problems: string[] = [];
  for (const [, pack] of packs) {
    if (pack.fileSize === undefined) problems.push(`pack ${pack.name} is missing (${packPath(directory, pack.name)})`);
  }
  const recordedSizes = database.prepare(`SELECT id, name, size FROM packs WHERE is_sealed = 1`).all() as { id: number; name: string; size: number }[];
  for (const recorded of recordedSizes) {
    const fileSize = packs.get(recorded.id)?.fileSize;
    if (fileSize !== undefined && fileSize < recorded.size) {
      problems.push(`pack ${recorded.name} is truncated: ${fileSize} bytes on disk, ${recorded.size} recorded`);
    }
  }
  const page = database.prepare(
    `SELECT id, hash, pack_id, offset, stored_size, raw_size FROM chunks
     WHERE (pack_id, offset, id) > (?, ?, ?) ORDER BY pack_id, offset, id LIMIT ?`);
  const damagedChunks: ChunkDamage[] = [];
  let chunks = 0;
  let chunksRead = 0;
  let openPack: { id: number; handle: FileHandle } | undefined;
  let after = [-1, -1, -1];
  try {
    for (;;) {
      const rows = page.all(after[0], after[1], after[2], PAGE_SIZE) as ChunkRow[];
      for (const row of rows) {
        chunks++;
        const pack = packs.get(row.pack_id);
        const damage = (reason: string): void => {
          damagedChunks.push({ chunkId: row.id, hash: row.hash.toString('hex'), packName: pack?.name ?? `#${row.pack_id}`, offset: row.offset, reason });
        };
        if (pack === undefined) { damage(`its pack row ${row.pack_id} does not exist`); continue; }
        if (pack.fileSize === undefined) { damage('pack file is missing'); continue; }
        const end = row.offset + RECORD_HEADER_SIZE + row.stored_size;
        if (end > pack.fileSize) { damage(`record ends at ${end}, beyond the pack's end (${pack.fileSize} bytes)`); continue; }
        if (openPack?.id !== row.pack_id) {
          await openPack?.handle.close();
          openPack = undefined;
          openPack = { id: row.pack_id, handle: await open(packPath(directory, pack.name), 'r') };
        }
        const isDataRead = shouldReadData();
        if (isDataRead) chunksRead++;
        const problem = await recordProblem(openPack.handle, row, isDataRead, codec);
        if (problem !== undefined) damage(problem);
      }
      if (rows.length < PAGE_SIZE) break;
      const last = rows[rows.length - 1];
      after = [last.pack_id, last.offset, last.id];
    }
  } finally {
    await openPack?.handle.close();
  }
  return { damagedChunks, problems, chunks, chunksRead };
}

async function packStates(directory: string, catalog: Catalog): Promise<Map<number, PackState>> {
  const rows = catalog.sqlite.prepare(`SELECT id, name FROM packs`).all() as { id: number; name: string }[];
  const states = new Map<number, PackState>();
  for (const row of rows) {
    const fileSize = await stat(packPath(directory, row.name)).then((info) => info.size, (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    states.set(row.id, { name: row.name, fileSize });
  }
  return states;
}

/** Returns why the record is wrong, or undefined; I/O errors other than short reads pass through. */
async function recordProblem(handle: FileHandle, row: ChunkRow, isDataRead: boolean, codec: ChunkCodec): Promise<string | undefined> {
  const length = isDataRead ? RECORD_HEADER_SIZE + row.stored_size : RECORD_HEADER_SIZE;
  const buffer = Buffer.allocUnsafe(length);
  const { bytesRead } = await handle.read(buffer, 0, length, row.offset);
  if (bytesRead !== length) return `short read: ${bytesRead} of ${length} bytes`;
  const header = decodeRecordHeader(buffer.subarray(0, RECORD_HEADER_SIZE));
  if (header === undefined) return 'no record header at its offset';
  if (header.storedSize !== row.stored_size || header.rawSize !== row.raw_size || !header.hash.equals(row.hash)) {
    return 'record header does not match the catalog';
  }
  if (!isDataRead) return undefined;
  let raw: Buffer;
  try {
    raw = codec.decode(header.codec, buffer.subarray(RECORD_HEADER_SIZE), row.raw_size);
  } catch (error) {
    return errorMessage(error);
  }
  return sha256(raw).equals(row.hash) ? undefined : 'content does not match its hash';
}
