// Garbage collection that runs beside backups and restores: a short sweep transaction drops rows no
// committed backup and no open session references; packs left empty are doomed, packs mostly dead
// are compacted; doomed objects are deleted once no reader needs them. No lock is held across I/O.
import type { PackBackend } from '../backend/pack-backend';
import type { Catalog } from '../catalog/catalog';
import type { Protection } from '../catalog/garbage-queries';
import type { ChunkCodec } from '../codec';
import type { DoomedPacks } from './doomed-packs';
import { compactPack } from './compaction';

export interface GarbageReport {
  readonly deletedContents: number;
  readonly deletedChunks: number;
  readonly deletedPacks: number;
  readonly rewrittenPacks: number;
  readonly freedBytes: number;
}

export interface GarbageCollectorDependencies {
  readonly catalog: Catalog;
  readonly backend: PackBackend;
  readonly codec: ChunkCodec;
  readonly stagingDirectory: string;
  readonly doomed: DoomedPacks;
  readonly protection: Protection;
}

/** A pack whose live share is below this is rewritten; an empty one is deleted outright. */
const COMPACT_BELOW_LIVE_SHARE = 0.5;

/** allPacks: look at every pack (the `gc` command), not only the ones this sweep touched. */
export async function collectGarbage(dependencies: GarbageCollectorDependencies, allPacks: boolean): Promise<GarbageReport> {
  const { catalog, doomed } = dependencies;
  const swept = catalog.garbage.sweep(() => dependencies.protection);
  const usages = allPacks ? catalog.packs.usage()
    : [...swept.touchedPacks].flatMap((packId) => catalog.packs.usageOf(packId) ?? []);
  let deletedPacks = 0;
  let rewrittenPacks = 0;
  let freedBytes = 0;
  for (const usage of usages) {
    if (usage.liveBytes === 0) {
      if (doomed.doom(usage.id, usage.name)) {
        deletedPacks++;
        freedBytes += usage.size;
      }
      continue;
    }
    if (usage.liveBytes / Math.max(usage.size, 1) >= COMPACT_BELOW_LIVE_SHARE) continue;
    const compacted = await compactPack(usage, catalog, dependencies.backend, dependencies.codec, dependencies.stagingDirectory, doomed);
    rewrittenPacks++;
    freedBytes += compacted.freedBytes;
  }
  await doomed.deleteReady();
  return { deletedContents: swept.deletedContents, deletedChunks: swept.deletedChunks, deletedPacks, rewrittenPacks, freedBytes };
}
