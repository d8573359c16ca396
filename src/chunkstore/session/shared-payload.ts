// Whether a client that sends bytes another client stored first sends them as they are stored. Where
// its payload differs (raw where the store holds zstd, another level, another zstd version), the
// shared copy is not what it sent: its restores would give back the other client's encoding, telling it
// that another client stored those bytes first (an oracle on other clients' data by content). Such a
// payload is stored as the client's own copy (client_chunks.pack_id) and its restores read that.
import { sha256 } from '../../common/sha256';
import { Codec } from '../pack/pack-format';
import type { KnownChunk } from '../catalog/chunks-table';
import type { ContentWriterContext } from './content-writer';

/**
 * SHA-256 of a chunk's payload, once per chunk on every path (new, shared, own copy, cover write): a
 * path that hashed more would take measurably longer, telling the client which one its chunk took. A
 * raw payload is the chunk's bytes, whose hash is the chunk's own (verified before this).
 */
export function payloadHashOf(codec: number, hash: Buffer, payload: Uint8Array): Buffer {
  return codec === Codec.Raw ? hash : sha256(payload);
}

/** True when the payload is the shared copy's, byte for byte (by its hash); a row from before schema 6 knows none. */
function isSharedPayload(known: Pick<KnownChunk, 'payloadHash'>, payloadHash: Buffer): boolean {
  return known.payloadHash !== null && known.payloadHash.equals(payloadHash);
}

/**
 * Writes a chunk the store has from another client as this client's payload (what it sent, or what the
 * store's encoding of its bytes gave): its own copy where the payload differs from the shared copy's, else
 * a cover write (cover-writer.ts: skipped, the time the backup takes would tell that another client holds
 * the bytes), or nothing when the store writes no covers. Returns what to wait for.
 */
export function writeSharedChunk(context: ContentWriterContext, known: Pick<KnownChunk, 'payloadHash'>, hash: Buffer, codec: number, rawSize: number,
  payload: Buffer): Promise<void> | undefined {
  const payloadHash = payloadHashOf(codec, hash, payload);
  if (!isSharedPayload(known, payloadHash)) {
    const own = context.packWriter.append(hash, codec, rawSize, payload, payloadHash);
    own.chunkId.catch(() => undefined); // a failure surfaces through `written`
    return own.written;
  }
  return context.coverWriter?.append(hash, codec, rawSize, payload, payloadHash).written;
}
