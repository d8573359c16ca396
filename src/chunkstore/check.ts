// `check`: verifies a store's catalog against its packs and, with read-data, every chunk's bytes.
// It reports exactly which chunks are damaged and which backups and files that breaks; it repairs nothing.
import type { PackBackend } from './backend/pack-backend';
import type { Catalog } from './catalog/catalog';
import type { ChunkCodec } from './codec';
import type { RecordFraming } from './pack/record-framing';
import { scanPacks } from './check/pack-scan';
import { scanCatalog } from './check/catalog-scan';
import { affectedFiles } from './check/affected';
import type { CheckReport } from './check/report';

export type { CheckReport, HealedChunk, ChunkDamage, ContentDamage, AffectedFile, AffectedBackup } from './check/report';
export { isClean } from './check/report';
export { checkReportLines } from './check/report-text';

export interface CheckOptions {
  /** Share of chunks decompressed and re-hashed, 0 to 100; 0 checks headers only. */
  readonly readDataPercent: number;
  /** Source of randomness for the subset (tests pass a fixed one). */
  readonly random?: () => number;
}

export async function checkStore(catalog: Catalog, backend: PackBackend, codec: ChunkCodec, framing: RecordFraming, options: CheckOptions): Promise<CheckReport> {
  const random = options.random ?? Math.random;
  const share = options.readDataPercent / 100;
  const shouldReadData = share >= 1 ? () => true : share <= 0 ? () => false : () => random() < share;
  const packs = await scanPacks(catalog, backend, codec, framing, shouldReadData);
  const rows = scanCatalog(catalog);
  const damagedChunks = packs.damagedChunks.filter((damage) => catalog.checks.isChunkLive(damage.chunkId));
  const affected = affectedFiles(catalog, damagedChunks.map((damage) => damage.chunkId),
    rows.damagedContents.map((damage) => damage.contentId));
  return {
    counts: { packs: catalog.packs.count(), chunks: packs.chunks, contents: rows.contents, backups: rows.backups, chunksRead: packs.chunksRead },
    damagedChunks,
    damagedGarbageChunks: packs.damagedChunks.filter((damage) => !damagedChunks.includes(damage)),
    soundAgain: packs.soundAgain,
    damagedContents: rows.damagedContents,
    affectedFiles: affected.files,
    affectedBackups: affected.backups,
    problems: [...packs.problems, ...rows.problems],
    staleKnowledge: rows.staleKnowledge,
    garbage: rows.garbage,
  };
}
