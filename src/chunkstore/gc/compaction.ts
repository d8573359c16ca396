// Rewrites a pack whose live share is low: its live records are read, verified and appended to a
// new pack, the chunk rows move to the new pack in one transaction once it is stored, and the old
// pack is doomed. Sessions refer to chunks by id, so nothing they hold changes under them.
import type { PackBackend } from '../backend/pack-backend';
import type { Catalog } from '../catalog/catalog';
import type { PackRecord } from '../catalog/packs-table';
import type { DamagedPlace } from '../catalog/records';
import type { ChunkCodec } from '../codec';
import { PackWriter, type PackWriterOptions } from '../pack/pack-writer';
import { decodeRecordHeader, RECORD_HEADER_SIZE } from '../pack/pack-format';
import { readRecord, verifyRecord } from '../pack/pack-reader';
import type { RecordFraming } from '../pack/record-framing';
import type { DoomedPacks } from './doomed-packs';
import { CorruptError } from '../../common/errors';

export interface CompactionResult {
  readonly freedBytes: number;
}

/** A live chunk of the pack does not read back intact: the pack cannot be rewritten without carrying it on. */
export class DamagedChunkError extends CorruptError {
  /** Where it was read: the locations are taken once, before the reads, and a backup may heal the row meanwhile. */
  constructor(readonly place: DamagedPlace, message: string) {
    super(message);
    this.name = 'DamagedChunkError';
  }
}

export async function compactPack(pack: PackRecord, catalog: Catalog, backend: PackBackend, codec: ChunkCodec,
  stagingDirectory: string, doomed: DoomedPacks, framing: RecordFraming, packWriting: Omit<PackWriterOptions, 'framing'> = {}): Promise<CompactionResult> {
  const locations = catalog.chunks.ofPack(pack.id);
  const chunkIds = new Map(locations.map((location) => [location.hash.toString('hex'), location.chunkId]));
  // The copies may fill more than one new pack: each moves its own chunks when it is stored.
  const writer = new PackWriter(stagingDirectory, backend, (sealed) => catalog.transaction(() => {
    const packId = catalog.packs.insert(sealed.name, sealed.size, Date.now());
    return sealed.records.map((record) => {
      const chunkId = chunkIds.get(record.hash.toString('hex'))!;
      catalog.chunks.move(chunkId, pack.id, packId, record.offset, record.storedSize);
      return chunkId;
    });
  }, true), { ...packWriting, framing });
  let liveBytes = 0;
  try {
    for (const location of locations) {
      // Verified while copying, so compaction never carries a damaged chunk on silently.
      let record: Buffer;
      try {
        record = await readRecord(backend, location, framing);
        verifyRecord(record, location, codec);
      } catch (error) {
        if (error instanceof CorruptError) throw new DamagedChunkError(location, error.message);
        throw error;
      }
      const header = decodeRecordHeader(record.subarray(0, RECORD_HEADER_SIZE))!;
      const appended = writer.appendRecord(record.subarray(0, RECORD_HEADER_SIZE), record.subarray(RECORD_HEADER_SIZE),
        { hash: location.hash, rawSize: header.rawSize, storedSize: location.storedSize });
      await appended.written;
      liveBytes += framing.overhead + location.storedSize;
    }
    await writer.sealCurrent();
  } catch (error) {
    await writer.discard();
    throw error;
  }
  const isDoomed = doomed.doom(pack.id, pack.name);
  return { freedBytes: isDoomed ? pack.size - liveBytes : 0 };
}
