// Which sources a backup says it dumped but holds no dump of any more (check --repair took a damaged
// one out): a link of a partial chain that is gone for that source, whatever the entries left suggest.
import type { BackupSummary } from '../proto/cpsbackup';
import { dumpSourcesOf, sourceIdentityLabel } from './sources/source-identity';
import { dumpFolderSourceOf } from './sources/loaders';

/** Why a source's dump is missing from a backup that names it, for messages. */
export function lostDumpReason(backup: BackupSummary): string {
  return backup.unreadableFiles > 0
    ? 'its dump is no longer in the backup (removed by check --repair: the backup is incomplete)'
    : 'its dump is not in the backup, whose labels say it dumped the source';
}

/**
 * The sources `backup`'s labels (`dumps.source.<name>`) say it dumped of which `dumpPaths` (its dump
 * entries, as the server lists them now) hold none, in name order. Every source a run dumps writes at
 * least one file, except a MongoDB database without collections: such a source counts as lost only in
 * an incomplete backup (files taken out), where its dumps may have been.
 */
export function lostDumpSources(backup: BackupSummary, dumpPaths: readonly string[]): string[] {
  const present = new Set(dumpPaths.map(dumpFolderSourceOf));
  return dumpSourcesOf(backup.labels).filter((name) => !present.has(name)
    && (backup.unreadableFiles > 0 || !(backup.labels[sourceIdentityLabel(name)] ?? '').startsWith('mongodb ')));
}
