// check's healing: a damaged chunk the server still holds a verified copy of (a range of the read cache, a
// client's own copy in another pack) is stored again from that copy before anything is given up on it.
import { readFile } from 'node:fs/promises';
import type { PackBackend } from '../backend/pack-backend';
import type { Catalog } from '../catalog/catalog';
import type { ChunkLocation, NewChunkRow } from '../catalog/records';
import type { ChunkCodec } from '../codec';
import type { PackCache } from '../cache/pack-cache';
import { PackWriter, type PackWriterOptions } from '../pack/pack-writer';
import { decodeRecordHeader, encodeRecordHeader, RECORD_HEADER_SIZE } from '../pack/pack-format';
import { readRecord, verifyRecord } from '../pack/pack-reader';
import type { RecordFraming } from '../pack/record-framing';
import { payloadHashOf } from '../session/shared-payload';
import { CorruptError, errorMessage } from '../../common/errors';
import type { ChunkDamage, HealedChunk } from './report';

export interface HealSettings {
  readonly catalog: Catalog;
  /** Where new packs go and own copies are read (the read cache in front is fine: what it serves is verified again here). */
  readonly backend: PackBackend;
  /** The bucket (or folder) itself, never the cache: a healing pack counts only once read back from there. */
  readonly bucket: Pick<PackBackend, 'readRange' | 'location'>;
  readonly cache: PackCache | undefined;
  readonly codec: ChunkCodec;
  readonly framing: RecordFraming;
  readonly stagingDirectory: string;
  readonly packWriting: Omit<PackWriterOptions, 'framing'>;
}

export interface HealResult {
  readonly healed: HealedChunk[];
  /** Why a copy found could not be stored again (the chunk stays damaged). */
  readonly failures: string[];
}

interface VerifiedCopy {
  readonly record: Buffer;
  readonly source: string;
}

/**
 * For each damaged chunk (marked damaged where check read it), the first verified copy the server holds: the read
 * cache's range of its record (sealed, bound to its pack and offset: authenticated again, decoded and re-hashed), else
 * a client's own copy (read, decoded and re-hashed, then encoded as the store encodes: its round trip checked). Each is appended to a new pack; the pack is put, read back from
 * the bucket and compared byte for byte with what was staged, and only then recorded, which moves the damaged row
 * onto the copy and clears its mark (as a backup that sends the bytes again heals it). A pack that does not read back
 * is not recorded: the rows stay damaged and where they were, and the cache keeps its copy for the next check.
 */
export async function healDamagedChunks(settings: HealSettings, damaged: readonly ChunkDamage[]): Promise<HealResult> {
  const { catalog, framing } = settings;
  const failures: string[] = [];
  const copies = new Map<number, { damage: ChunkDamage; copy: VerifiedCopy }>();
  for (const damage of damaged) {
    if (copies.has(damage.chunkId)) continue;
    const location = catalog.chunks.find(Buffer.from(damage.hash, 'hex'));
    // Healed or moved since it was read: its old place proves nothing.
    if (location === undefined || location.chunkId !== damage.chunkId || location.packId !== damage.packId || location.offset !== damage.offset) continue;
    const copy = await verifiedCopy(settings, location);
    if (copy !== undefined) copies.set(damage.chunkId, { damage, copy });
  }
  if (copies.size === 0) return { healed: [], failures };
  const healed: HealedChunk[] = [];
  const byHash = new Map([...copies.values()].map((entry) => [entry.damage.hash, entry]));
  const writer = new PackWriter(settings.stagingDirectory, readBackBackend(settings), (sealed) => catalog.transaction(() => {
    const packId = catalog.packs.insert(sealed.name, sealed.size, Date.now());
    const placedElsewhere: NewChunkRow[] = [];
    const ids = catalog.chunks.insertRows(packId, sealed.records, placedElsewhere);
    const notPlaced = new Set(placedElsewhere.map((row) => row.hash.toString('hex')));
    for (const row of sealed.records) {
      const hash = row.hash.toString('hex');
      const entry = byHash.get(hash);
      // Placed elsewhere: a backup stored the bytes again meanwhile and healed the row first; this copy is dead space.
      if (entry === undefined || notPlaced.has(hash)) continue;
      healed.push({ chunkId: entry.damage.chunkId, hash, packName: entry.damage.packName, offset: entry.damage.offset, source: entry.copy.source, newPackName: sealed.name });
    }
    return ids;
  }), { ...settings.packWriting, framing });
  try {
    for (const { damage, copy } of copies.values()) {
      const header = decodeRecordHeader(copy.record.subarray(0, RECORD_HEADER_SIZE))!;
      const payload = copy.record.subarray(RECORD_HEADER_SIZE);
      const hash = Buffer.from(damage.hash, 'hex');
      await writer.appendRecord(copy.record.subarray(0, RECORD_HEADER_SIZE), payload,
        { hash, rawSize: header.rawSize, storedSize: payload.length, payloadHash: payloadHashOf(header.codec, hash, payload) }).written;
    }
    await writer.sealCurrent();
  } catch (error) {
    await writer.discard();
    failures.push(`could not store ${copies.size} damaged chunks again from the verified copies found (${errorMessage(error)}): they stay damaged`);
  }
  return { healed, failures };
}

/** The first copy of the chunk's bytes that opens, decodes and matches its hash, or undefined. */
async function verifiedCopy(settings: HealSettings, location: ChunkLocation): Promise<VerifiedCopy | undefined> {
  const { catalog, cache, codec, framing } = settings;
  const cached = await cache?.get(location.packName, location.offset, framing.overhead + location.storedSize);
  if (cached !== undefined) {
    try {
      const record = framing.unframe(location.packName, location.offset, cached);
      verifyRecord(record, location, codec);
      return { record, source: 'the read cache' };
    } catch (error) {
      if (!(error instanceof CorruptError)) throw error;
    }
  }
  for (const own of catalog.clientChunks.ownCopiesOfChunk(location.hash)) {
    try {
      const raw = verifyRecord(await readRecord(settings.backend, own, framing), own, codec);
      // Stored as the store encodes the bytes, never in the own copy's encoding: clients without an own copy would
      // restore that client's payload and learn that another client holds those bytes, and how it sent them.
      const encoded = codec.encode(Buffer.from(raw));
      const header = encodeRecordHeader({ codec: encoded.codec, rawSize: raw.length, storedSize: encoded.payload.length, hash: location.hash });
      return { record: Buffer.concat([header, encoded.payload]),
        source: `client ${catalog.checks.clientNameOf(own.clientId) ?? `#${own.clientId}`}'s own copy in pack ${own.packName} (its bytes, in the store's encoding)` };
    } catch (error) {
      if (!(error instanceof CorruptError)) throw error;
    }
  }
  return undefined;
}

/** Puts a pack, then reads it back from the bucket itself: what was put must be what the bucket gives, byte for byte. */
function readBackBackend(settings: HealSettings): Pick<PackBackend, 'putPack'> {
  return {
    async putPack(name: string, stagedFile: string): Promise<void> {
      const staged = await readFile(stagedFile);
      await settings.backend.putPack(name, stagedFile);
      const stored = await settings.bucket.readRange(name, 0, staged.length);
      if (!stored.equals(staged)) throw new CorruptError(`pack ${name} read back from ${settings.bucket.location} is not what was put`);
    },
  };
}
