// Rewrites packs: the live records of each pack handed over are read, verified and appended to new
// packs, shared by every pack of one collection (one new pack per rewritten pack left a store of
// many small ones: 20 packs of 120-400 KB with pack_size = 1M). A chunk row moves to its copy in the
// transaction that records the new pack once it is stored; a pack is doomed only when no row points
// into it any more. Sessions refer to chunks by id, so nothing they hold changes under them.
import type { PackBackend } from '../backend/pack-backend';
import type { Catalog } from '../catalog/catalog';
import type { PackRecord } from '../catalog/packs-table';
import type { ChunkLocation, DamagedPlace } from '../catalog/records';
import type { OwnCopyPlace } from '../catalog/client-chunks-table';
import type { ChunkCodec } from '../codec';
import { PackWriter, type PackWriterOptions } from '../pack/pack-writer';
import { decodeRecordHeader, RECORD_HEADER_SIZE } from '../pack/pack-format';
import { readRecord, verifyRecord } from '../pack/pack-reader';
import type { RecordFraming } from '../pack/record-framing';
import { CorruptError } from '../../common/errors';

/** Live chunks of the pack do not read back intact: the pack cannot be rewritten without carrying them on. */
export class DamagedChunkError extends CorruptError {
  /**
   * Every one found, each where it was read: the locations are taken once, before the reads, and a backup may
   * heal a row meanwhile. The message is the first one's.
   */
  constructor(readonly places: readonly DamagedPlace[], message: string) {
    super(message);
    this.name = 'DamagedChunkError';
  }
}

export interface CompactionSettings {
  readonly catalog: Catalog;
  readonly backend: PackBackend;
  readonly codec: ChunkCodec;
  readonly framing: RecordFraming;
  readonly stagingDirectory: string;
  /** The store's pack size and staging bound, which compaction's new packs obey like a backup's. */
  readonly packWriting: Omit<PackWriterOptions, 'framing'>;
}

/** A copied record not stored yet: the chunk row or the client's own copy it moves. */
type CopySource = { readonly hash: Buffer; readonly chunkId: number; readonly packId: number } | { readonly hash: Buffer; readonly own: OwnCopyPlace };

export class PackCompaction {
  /**
   * Each copied record not stored yet, by the tag its record carries through the pack writer: the row it
   * moves. Not by hash (a chunk's row and a client's own copy of it may lie in one pack), nor in append
   * order (packs are stored two at a time, and a small last pack may be recorded first).
   */
  private readonly sources = new Map<number, CopySource>();
  private nextTag = 1;
  /** Bytes each pack handed over has had copied: what its deletion does not free. */
  private readonly copiedBytes = new Map<number, number>();
  private readonly writer: PackWriter;
  private writeFailure: unknown;

  constructor(private readonly settings: CompactionSettings) {
    const { catalog } = settings;
    this.writer = new PackWriter(settings.stagingDirectory, settings.backend, (sealed) => catalog.transaction(() => {
      const packId = catalog.packs.insert(sealed.name, sealed.size, Date.now());
      return sealed.records.map((record) => {
        const source = record.tag === undefined ? undefined : this.sources.get(record.tag);
        if (source === undefined || !source.hash.equals(record.hash)) throw new Error(`compaction: pack ${sealed.name} holds a record it did not copy (${record.hash.toString('hex')})`);
        this.sources.delete(record.tag!);
        if ('own' in source) {
          catalog.clientChunks.moveOwnCopy(source.own, packId, record.offset);
          return 0;
        }
        catalog.chunks.move(source.chunkId, source.packId, packId, record.offset, record.storedSize);
        return source.chunkId;
      });
    }, true), { ...settings.packWriting, framing: settings.framing });
  }

  /**
   * Copies the pack's live records, each verified first, so a damaged chunk is never carried on
   * silently: every one that does not read back intact is left where it is, the others copied (their rows
   * move all the same), and then DamagedChunkError names them all (the pack keeps them and is not doomed).
   * Every one, not the first: a pack cut short or damaged in two places had only its first lost chunk
   * marked, and the next backup deduplicated against the second and restored nothing (found by red team).
   */
  async copyLive(pack: PackRecord): Promise<void> {
    const { catalog } = this.settings;
    const damaged: DamagedPlace[] = [];
    let firstDamage: string | undefined;
    for (const location of catalog.chunks.ofPack(pack.id)) {
      await this.copy(pack, location, { hash: location.hash, chunkId: location.chunkId, packId: pack.id }, (error) => {
        damaged.push(location);
        firstDamage ??= error.message;
      });
    }
    for (const own of catalog.clientChunks.ownCopiesOf(pack.id)) {
      // The shared copy holds the same bytes: an own copy that does not read back is dropped, and the
      // client's restores read the shared one (another client's encoding, but its data).
      await this.copy(pack, own, { hash: own.hash, own }, () => {
        catalog.transaction(() => catalog.clientChunks.dropOwnCopy(own), true);
      });
    }
    if (firstDamage !== undefined) {
      const more = damaged.length > 1 ? ` (and ${damaged.length - 1} more live chunks of pack ${pack.name})` : '';
      throw new DamagedChunkError(damaged, `${firstDamage}${more}`);
    }
  }

  /** Reads, verifies and appends one record; `onDamage` decides what a record that does not read back does. */
  private async copy(pack: PackRecord, location: ChunkLocation, source: CopySource,
    onDamage: (error: CorruptError) => void): Promise<void> {
    const { backend, codec, framing } = this.settings;
    let record: Buffer;
    try {
      record = await readRecord(backend, location, framing);
      verifyRecord(record, location, codec);
    } catch (error) {
      if (error instanceof CorruptError) {
        onDamage(error);
        return;
      }
      throw error;
    }
    const header = decodeRecordHeader(record.subarray(0, RECORD_HEADER_SIZE))!;
    const tag = this.nextTag++;
    this.sources.set(tag, source);
    const appended = this.writer.appendRecord(record.subarray(0, RECORD_HEADER_SIZE), record.subarray(RECORD_HEADER_SIZE),
      { hash: location.hash, rawSize: header.rawSize, storedSize: location.storedSize, tag });
    await appended.written.catch((error: unknown) => {
      this.writeFailure ??= error;
      throw error;
    });
    this.copiedBytes.set(pack.id, (this.copiedBytes.get(pack.id) ?? 0) + framing.overhead + location.storedSize);
  }

  /** Writing new packs failed (a full staging disk, a store that refuses them): no other pack can be copied. */
  get hasFailedWriting(): boolean {
    return this.writeFailure !== undefined;
  }

  /** Stores the last new pack; every row copied has moved once this resolves. */
  finish(): Promise<void> {
    return this.writer.sealCurrent();
  }

  /** After a failure: the open new pack is dropped, and the rows of its records stay where they were. */
  discard(): Promise<void> {
    return this.writer.discard();
  }

  /** Of a pack handed over and now doomed: its size less what was copied out of it. */
  freedBytesOf(pack: PackRecord): number {
    return pack.size - (this.copiedBytes.get(pack.id) ?? 0);
  }
}
