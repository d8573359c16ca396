// Packs whose object is not the size the catalog recorded when it was sealed. A short one (a power loss, a full
// disk, restic #3400's 0-byte packs) has lost every record past its end, and nothing proves those before it:
// they are damage like a missing pack's. A longer one lost nothing the catalog names, and is only reported.
import type { PackBackend } from './backend/pack-backend';
import type { Catalog } from './catalog/catalog';
import type { PackRecord } from './catalog/packs-table';
import type { ChunkLocation, DamagedPlace } from './catalog/records';
import type { OwnCopyPlace } from './catalog/client-chunks-table';
import type { ChunkCodec } from './codec';
import type { RecordFraming } from './pack/record-framing';
import { readChunk } from './pack/pack-reader';
import { errorMessage } from '../common/errors';

export interface ResizedPack {
  readonly pack: PackRecord;
  /** Its object's size in the store now. */
  readonly storedSize: number;
}

/** The catalog's packs whose stored object is shorter or longer than recorded; a pack not stored is neither (missing). */
export function resizedPacks(packs: readonly PackRecord[], stored: ReadonlyMap<string, number>): { short: ResizedPack[]; long: ResizedPack[] } {
  const short: ResizedPack[] = [];
  const long: ResizedPack[] = [];
  for (const pack of packs) {
    const storedSize = stored.get(pack.name);
    if (storedSize === undefined || storedSize === pack.size) continue;
    (storedSize < pack.size ? short : long).push({ pack, storedSize });
  }
  return { short, long };
}

/** What a short pack cost: chunk rows marked damaged and clients' own copies dropped, of how many in it. */
export interface ShortPackDamage extends ResizedPack {
  readonly chunks: number;
  readonly damagedChunks: number;
  readonly ownCopies: number;
  readonly droppedOwnCopies: number;
  /** The first reason a record within the stored part did not read back, when one did not. */
  readonly firstReadFailure?: string;
  /**
   * No row pointed past the stored end any more (the chunks lost there were stored again since an earlier
   * start marked them), and the records within it were read back: the catalog records its stored size now.
   */
  readonly isSettled: boolean;
}

/** How the records within a short pack's stored part are read back (the bucket itself, not a read cache). */
export interface RecordVerifier {
  readonly backend: PackBackend;
  readonly codec: ChunkCodec;
  readonly framing: RecordFraming;
}

/**
 * Marks damaged every chunk of each short pack whose record runs past the stored end and, with `verifier`,
 * every one within it that does not read back whole and match its hash (any failure: a read that cannot be
 * made proves nothing either, and a mark costs only a second copy of its bytes: check clears a mark whose
 * chunk reads back whole); drops the clients' own copies there alike (their restores read the shared copy).
 * No backup deduplicates against them from then on, and the next ones holding their bytes store them again.
 */
export async function markShortPacksDamaged(catalog: Catalog, packs: readonly ResizedPack[], framingOverhead: number,
  verifier?: RecordVerifier): Promise<ShortPackDamage[]> {
  const damages: ShortPackDamage[] = [];
  for (const resized of packs) {
    let firstReadFailure: string | undefined;
    let isAnyPastEnd = false;
    const isLost = async (location: ChunkLocation): Promise<boolean> => {
      if (location.offset + framingOverhead + location.storedSize > resized.storedSize) {
        isAnyPastEnd = true;
        return true;
      }
      if (verifier === undefined) return false;
      try {
        await readChunk(verifier.backend, location, verifier.codec, undefined, verifier.framing);
        return false;
      } catch (error) {
        firstReadFailure ??= errorMessage(error);
        return true;
      }
    };
    const chunks = catalog.chunks.ofPack(resized.pack.id);
    const lostChunks: DamagedPlace[] = [];
    for (const location of chunks) if (await isLost(location)) lostChunks.push(location);
    const ownCopies = catalog.clientChunks.ownCopiesOf(resized.pack.id);
    const lostOwnCopies: OwnCopyPlace[] = [];
    for (const own of ownCopies) if (await isLost(own)) lostOwnCopies.push(own);
    let droppedOwnCopies = 0;
    const damagedChunks = lostChunks.length === 0 ? 0 : catalog.chunks.markDamaged(lostChunks.map(({ chunkId, packId, offset }) => ({ chunkId, packId, offset })));
    if (lostOwnCopies.length > 0) {
      catalog.transaction(() => {
        for (const own of lostOwnCopies) droppedOwnCopies += catalog.clientChunks.dropOwnCopy(own);
      }, true);
    }
    // Settled once nothing lies past its end (found by a start, which read back the rest): the next start warns no more.
    const isSettled = verifier !== undefined && !isAnyPastEnd;
    if (isSettled) catalog.transaction(() => catalog.packs.resize(resized.pack.id, resized.storedSize), true);
    damages.push({ ...resized, chunks: chunks.length, damagedChunks, ownCopies: ownCopies.length, droppedOwnCopies, firstReadFailure, isSettled });
  }
  return damages;
}

/** One warning line per short pack, naming it, its sizes and what it cost. */
export function describeShortPack(damage: ShortPackDamage, location: string): string {
  const { pack, storedSize } = damage;
  const own = damage.ownCopies === 0 ? '' : `, and ${damage.droppedOwnCopies} of the ${damage.ownCopies} clients' own copies there dropped`;
  const why = damage.firstReadFailure === undefined ? '' : ` (a record within it did not read back: ${damage.firstReadFailure})`;
  const head = `pack ${pack.name} in ${location} is truncated: ${storedSize} bytes stored, ${pack.size} recorded: `;
  if (damage.isSettled && damage.damagedChunks === 0 && damage.droppedOwnCopies === 0) {
    return `${head}nothing the catalog names lies past its end any more (stored again since), and its ${damage.chunks} chunks read back whole; `
      + `its recorded size is now ${storedSize}`;
  }
  const settled = damage.isSettled ? `; nothing else lies past its end any more, and its recorded size is now ${storedSize}` : '';
  return `${head}${damage.damagedChunks} of its ${damage.chunks} chunks are marked damaged${own}${why}; the next backups holding their bytes `
    + `store them again; \`cpsbackup-server check\` names the files they cost${settled}`;
}

/** One warning line per pack longer than recorded: nothing the catalog names is lost, but an immutable object changed. */
export function describeLongPack(resized: ResizedPack, location: string): string {
  return `pack ${resized.pack.name} in ${location} is ${resized.storedSize} bytes, longer than the ${resized.pack.size} recorded when it was `
    + 'sealed: packs are never written after their seal, so something else wrote to it; what the catalog names in it is where it was '
    + '(not marked damaged); `cpsbackup-server check --read-data` reads it back';
}
