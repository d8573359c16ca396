// Walks every chunk row in pack order and proves its record is where the catalog says: the pack
// exists, the record fits inside it, its header matches; chosen chunks are also decoded and re-hashed.
import type { PackBackend } from '../backend/pack-backend';
import type { Catalog } from '../catalog/catalog';
import type { ChunkRow } from '../catalog/check-queries';
import type { PackRecord } from '../catalog/packs-table';
import type { ChunkCodec } from '../codec';
import { sha256 } from '../codec';
import { decodeRecordHeader, RECORD_HEADER_SIZE } from '../pack/pack-format';
import type { RecordFraming } from '../pack/record-framing';
import { isCoverPackName } from '../pack/pack-files';
import { CorruptError, NotFoundError, errorMessage } from '../../common/errors';
import { WrongKeyError } from '../crypto/store-key';
import type { ChunkDamage } from './report';
import type { DamagedPlace } from '../catalog/records';

export interface PackScanResult {
  readonly damagedChunks: ChunkDamage[];
  /** Chunks marked damaged that read back whole and match their hash where their rows place them. */
  readonly soundAgain: DamagedPlace[];
  readonly problems: string[];
  readonly chunks: number;
  readonly chunksRead: number;
}

const PAGE_SIZE = 1000;

/**
 * shouldReadData decides per chunk whether its bytes are decoded and re-hashed, not only its header.
 * Backups, GC and compaction may run meanwhile (a check with read-data takes hours): only the packs
 * recorded when it began are checked, and anything found wrong is looked up again before it is
 * reported, since a chunk moved or a pack removed since it was read is no damage. A chunk marked
 * damaged is always read whole: found damaged again it is reported again, and one that reads back whole
 * is listed in soundAgain (its mark outlived its cause, and --repair would drop files that restore).
 */
export async function scanPacks(catalog: Catalog, backend: PackBackend, codec: ChunkCodec, framing: RecordFraming,
  shouldReadData: () => boolean): Promise<PackScanResult> {
  const problems: string[] = [];
  // Recorded first, listed second: a pack is stored before it is recorded, so each pack of this
  // snapshot was in the store before the listing began (unless a sweep removed it since).
  const packs = new Map(catalog.packs.all().map((pack) => [pack.id, pack]));
  let lastPackId = 0;
  for (const id of packs.keys()) lastPackId = Math.max(lastPackId, id);
  const stored = new Map<string, number>();
  for await (const object of backend.listPacks()) stored.set(object.name, object.size);
  // Asked only when something looks wrong: one lookup of the pack as the catalog holds it now.
  const isStillRecorded = (name: string): boolean => catalog.packs.isRecorded(name) && !catalog.packs.isDoomed(name);
  for (const pack of packs.values()) {
    const size = stored.get(pack.name);
    if (size === undefined) {
      if (isStillRecorded(pack.name)) problems.push(`pack ${pack.name} is missing from ${backend.location}`);
    } else if (size < pack.size) problems.push(`pack ${pack.name} is truncated: ${size} bytes stored, ${pack.size} recorded`);
  }
  const recorded = new Set([...packs.values()].map((pack) => pack.name));
  for (const name of stored.keys()) {
    // Stored and recorded since the snapshot, by a backup still running then: not an orphan.
    if (recorded.has(name) || catalog.packs.isDoomed(name) || isStillRecorded(name)) continue;
    // A running backup's cover write (cover-writer.ts), deleted once stored, or one a crash left: the next open deletes it.
    if (isCoverPackName(name)) continue;
    problems.push(`pack ${name} in ${backend.location} is not in the catalog (an orphan)`);
  }
  const damagedChunks: ChunkDamage[] = [];
  const soundAgain: DamagedPlace[] = [];
  let chunks = 0;
  let chunksRead = 0;
  let after = [-1, -1, -1];
  for (;;) {
    const rows = catalog.checks.chunksAfter(after[0], after[1], after[2], PAGE_SIZE);
    for (const row of rows) {
      // Recorded after the check began, or moved there by a compaction: the next check reads it.
      if (row.packId > lastPackId) continue;
      chunks++;
      const pack = packs.get(row.packId);
      const damage = (reason: string): void => {
        const now = catalog.checks.chunkRow(row.id);
        // Moved (compaction) or dropped (GC) since its row was read: its old place proves nothing.
        if (now === undefined || now.packId !== row.packId || now.offset !== row.offset) return;
        if (pack !== undefined && !isStillRecorded(pack.name)) return;
        damagedChunks.push({ chunkId: row.id, hash: row.hash.toString('hex'), packId: row.packId, packName: pack?.name ?? `#${row.packId}`, offset: row.offset, reason });
      };
      if (pack === undefined) { damage(`its pack row ${row.packId} does not exist`); continue; }
      const problem = await placedRecordProblem(backend, framing, codec, pack.name, stored.get(pack.name), row, () => {
        const isDataRead = row.isDamaged === 1 || shouldReadData();
        if (isDataRead) chunksRead++;
        return isDataRead;
      });
      if (problem !== undefined) damage(problem);
      else if (row.isDamaged === 1) soundAgain.push({ chunkId: row.id, packId: row.packId, offset: row.offset });
    }
    if (rows.length < PAGE_SIZE) break;
    const last = rows[rows.length - 1];
    after = [last.packId, last.offset, last.id];
  }
  chunksRead += await scanOwnCopies(catalog, backend, codec, framing, packs, stored, shouldReadData, problems);
  return { damagedChunks, soundAgain, problems, chunks, chunksRead };
}

/**
 * The clients' own copies (client_chunks rows with a pack: another encoding of a chunk's bytes), pack
 * by pack. One that does not read back is dropped, said in a problem line: the client's restores read
 * the shared copy from then on, the same bytes. Returns how many were read whole.
 */
async function scanOwnCopies(catalog: Catalog, backend: PackBackend, codec: ChunkCodec, framing: RecordFraming, packs: ReadonlyMap<number, PackRecord>,
  stored: ReadonlyMap<string, number>, shouldReadData: () => boolean, problems: string[]): Promise<number> {
  let read = 0;
  for (const pack of packs.values()) {
    for (const own of catalog.clientChunks.ownCopiesOf(pack.id)) {
      const problem = await placedRecordProblem(backend, framing, codec, pack.name, stored.get(pack.name), { ...own, id: own.chunkId }, () => {
        const isDataRead = shouldReadData();
        if (isDataRead) read++;
        return isDataRead;
      });
      if (problem === undefined) continue;
      // Moved by a compaction or given up since it was listed: its old place proves nothing.
      if (catalog.transaction(() => catalog.clientChunks.dropOwnCopy(own), true) === 0) continue;
      problems.push(`client ${catalog.checks.clientNameOf(own.clientId) ?? `#${own.clientId}`}'s own copy of chunk ${own.hash.toString('hex')} in pack ${pack.name} `
        + `at offset ${own.offset} is damaged (${problem}): dropped, its restores read the shared copy`);
    }
  }
  return read;
}

/**
 * Why the record a row places in a pack (stored as `size` bytes, undefined when missing) is wrong, or
 * undefined; `readsData` is asked only for a record within the pack: whether to decode it whole.
 */
async function placedRecordProblem(backend: PackBackend, framing: RecordFraming, codec: ChunkCodec, packName: string, size: number | undefined,
  row: ChunkRow, readsData: () => boolean): Promise<string | undefined> {
  if (size === undefined) return 'pack is missing';
  const end = row.offset + framing.overhead + row.storedSize;
  if (end > size) return `record ends at ${end}, beyond the pack's end (${size} bytes)`;
  return recordProblem(backend, framing, packName, row, readsData(), codec);
}

/** Returns why the record is wrong, or undefined; I/O errors other than missing or short objects pass through. */
async function recordProblem(backend: PackBackend, framing: RecordFraming, packName: string, row: ChunkRow, isDataRead: boolean,
  codec: ChunkCodec): Promise<string | undefined> {
  // A sealed record authenticates only whole: its header alone cannot be trusted.
  const isWholeRead = isDataRead || !framing.isHeaderReadableAlone;
  let buffer: Buffer;
  try {
    const stored = await backend.readRange(packName, row.offset, isWholeRead ? framing.overhead + row.storedSize : RECORD_HEADER_SIZE);
    buffer = isWholeRead ? framing.unframe(packName, row.offset, stored) : stored;
  } catch (error) {
    if (error instanceof NotFoundError || error instanceof CorruptError || error instanceof WrongKeyError) return errorMessage(error);
    throw error;
  }
  const header = decodeRecordHeader(buffer.subarray(0, RECORD_HEADER_SIZE));
  if (header === undefined) return 'no record header at its offset';
  if (header.storedSize !== row.storedSize || header.rawSize !== row.rawSize || !header.hash.equals(row.hash)) {
    return 'record header does not match the catalog';
  }
  if (!isDataRead) return undefined;
  let raw: Buffer;
  try {
    raw = codec.decode(header.codec, buffer.subarray(RECORD_HEADER_SIZE), row.rawSize);
  } catch (error) {
    return errorMessage(error);
  }
  return sha256(raw).equals(row.hash) ? undefined : 'content does not match its hash';
}
