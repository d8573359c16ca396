// Which sources a backup says it dumped but holds no dump of any more (check --repair took a damaged
// one out): a link of a partial chain that is gone for that source, whatever the entries left suggest.
import { basename } from 'node:path';
import type { BackupSummary } from '../proto/cpsbackup';
import { dumpSourcesOf, sourceIdentityLabel } from './sources/source-identity';
import { dumpFolderSourceOf } from './sources/loaders';
import { COMMAND_DUMP_NAME, SQLITE_DUMP_NAME } from './sources/dump-names';
import { DATA_FILE_NAME, SCHEMA_FILE_NAME } from './sources/tables/data-format';
import { partialDumpsOf } from './sources/partial-dumps';

/** Why a source's dump is missing from a backup that names it, for messages. */
export function lostDumpReason(backup: BackupSummary): string {
  return backup.unreadableFiles > 0
    ? 'its dump is gone from the backup, whole or in part (removed by check --repair: the backup is incomplete)'
    : 'its dump is not in the backup, whose labels say it dumped the source';
}

/**
 * The sources `backup`'s labels (`dumps.source.<name>`) say it dumped whose dump `dumpPaths` (its dump
 * entries, as the server lists them now) no longer hold whole, in name order: none of its files, or, in an
 * incomplete backup (files taken out), one a run of its kind always writes (a database source's data.sql,
 * and schema.sql unless dumped partially). Every source a run dumps writes at least one file (a MongoDB
 * database without a collection to dump fails: mongodb-collections.ts, older than these labels). One
 * collection's file taken out of several is not seen (which collections a run dumped is not recorded).
 */
export function lostDumpSources(backup: BackupSummary, dumpPaths: readonly string[]): string[] {
  const filesOf = new Map<string, Set<string>>();
  for (const path of dumpPaths) {
    const source = dumpFolderSourceOf(path);
    if (source !== undefined) filesOf.set(source, (filesOf.get(source) ?? new Set()).add(basename(path)));
  }
  const isIncomplete = backup.unreadableFiles > 0;
  return dumpSourcesOf(backup.labels).filter((name) => {
    const files = filesOf.get(name);
    if (files === undefined) return true;
    return isIncomplete && alwaysWrittenFiles(backup, name).some((file) => !files.has(file));
  });
}

/** The names of the files `backup`'s dump of the source always holds, from its labels (none known for MongoDB: a file per collection). */
export function alwaysWrittenFiles(backup: BackupSummary, name: string): string[] {
  switch ((backup.labels[sourceIdentityLabel(name)] ?? '').split(' ')[0]) {
    case 'command':
      return [COMMAND_DUMP_NAME];
    case 'sqlite':
      return [SQLITE_DUMP_NAME];
    case 'postgresql':
    case 'mariadb':
      // A partial backup from before dumps.partial_sources: whether schema.sql was written is not known.
      return isRunWhole(backup, name) ? [SCHEMA_FILE_NAME, DATA_FILE_NAME] : [DATA_FILE_NAME];
    default:
      return [];
  }
}

/**
 * Whether `backup` dumped the source whole (its labels name it, not among those dumped partially): loaded,
 * that dump replaces whatever the links before it built, so a lost link before it no longer matters.
 */
export function isDumpedWhole(backup: BackupSummary, name: string): boolean {
  return dumpSourcesOf(backup.labels).includes(name) && isRunWhole(backup, name);
}

/** Whether the backup's run of the source was not a partial one (a partial backup from before dumps.partial_sources: not known, false). */
function isRunWhole(backup: BackupSummary, name: string): boolean {
  const partial = partialDumpsOf(backup);
  return partial === false || (partial !== true && !partial.has(name));
}

/**
 * The lost links of `chain` (in order, from its dump entries as listed; a backup not listed is not judged) of
 * the sources `isConsidered` keeps that no later backup of the chain mends by dumping the source whole.
 */
export function unmendedLostLinks(chain: readonly BackupSummary[], dumpPaths: ReadonlyMap<number, readonly string[]>,
  isConsidered: (sourceName: string) => boolean): { readonly sourceName: string; readonly backup: BackupSummary }[] {
  const open = new Map<string, BackupSummary>();
  for (const backup of chain) {
    const paths = dumpPaths.get(backup.backupId);
    const lost = paths === undefined ? [] : lostDumpSources(backup, paths).filter(isConsidered);
    for (const name of [...open.keys()]) if (!lost.includes(name) && isDumpedWhole(backup, name)) open.delete(name);
    for (const name of lost) if (!open.has(name)) open.set(name, backup);
  }
  return [...open].map(([sourceName, backup]) => ({ sourceName, backup }));
}
