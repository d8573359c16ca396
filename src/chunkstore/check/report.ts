// What `check` found, as plain data: damaged chunks and contents, the files and backups they
// break, catalog inconsistencies, and garbage that is harmless until the next GC.
import type { DamagedPlace } from '../catalog/records';

export interface ChunkDamage {
  readonly chunkId: number;
  readonly hash: string;
  /** The pack row it was read from: marking it damaged checks the row still lies there. */
  readonly packId: number;
  readonly packName: string;
  readonly offset: number;
  readonly reason: string;
}

/** A damaged chunk stored again from a verified copy the server held (check/heal.ts): no longer damage. */
export interface HealedChunk {
  readonly chunkId: number;
  readonly hash: string;
  /** Where it was damaged. */
  readonly packName: string;
  readonly offset: number;
  /** The copy it came from: the read cache, or a client's own copy. */
  readonly source: string;
  /** The new pack that holds it now, read back from the bucket before it was recorded. */
  readonly newPackName: string;
}

/** A content broken by something other than one of its chunks' bytes (a missing row, a size that does not add up). */
export interface ContentDamage {
  readonly contentId: number;
  readonly reason: string;
}

export interface AffectedFile {
  readonly clientName: string;
  readonly backupNumber: number;
  readonly path: Buffer;
  readonly contentId: number;
}

export interface AffectedBackup {
  readonly clientName: string;
  readonly backupNumber: number;
  readonly damagedFiles: number;
}

export interface CheckCounts {
  readonly packs: number;
  readonly chunks: number;
  readonly contents: number;
  readonly backups: number;
  /** Chunks decompressed and re-hashed (--read-data or its subset). */
  readonly chunksRead: number;
}

/** Chunks a client is told the store holds for it that none of its backups or holds references (none should be). */
export interface StaleKnowledge {
  readonly clientName: string;
  readonly chunks: number;
}

export interface CheckReport {
  readonly counts: CheckCounts;
  readonly damagedChunks: readonly ChunkDamage[];
  readonly damagedContents: readonly ContentDamage[];
  readonly affectedFiles: readonly AffectedFile[];
  readonly affectedBackups: readonly AffectedBackup[];
  /** Inconsistencies that break no file by themselves but mean the catalog and packs disagree. */
  readonly problems: readonly string[];
  /** Not damage, but an answer "held" that would tell a client another one stores those bytes; check --repair forgets them. */
  readonly staleKnowledge: readonly StaleKnowledge[];
  /** Unreferenced rows GC will reclaim: normal between a delete or an abandoned backup and the next GC. */
  readonly garbage: { readonly contents: number; readonly chunks: number };
  /**
   * Damaged chunks nothing uses any more (check --repair took their files out): no damage to any backup,
   * reclaimed by the next GC. Marked damaged all the same, so no backup deduplicates against them meanwhile.
   */
  readonly damagedGarbageChunks: readonly ChunkDamage[];
  /** Chunks marked damaged by an earlier check that read back whole now: the store clears their marks. */
  readonly soundAgain: readonly DamagedPlace[];
  /** Damaged chunks stored again from a verified copy the server held (the store's check heals before it reports). */
  readonly healedChunks?: readonly HealedChunk[];
  /** Verified copies found that could not be stored again (their chunks stay damaged). */
  readonly healFailures?: readonly string[];
}

export function isClean(report: CheckReport): boolean {
  return report.damagedChunks.length === 0 && report.damagedContents.length === 0 && report.problems.length === 0
    && report.staleKnowledge.length === 0;
}
