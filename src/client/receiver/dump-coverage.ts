// Which of a backup's dumps a receiver loads, and what that leaves out: dumps of sources its
// storage.conf does not name (unclaimed), sources it names that the backup holds no dump of (absent),
// and what node.conf's receive_ignore or --load-into leaves out on purpose (neither loaded nor missed).
import type { StorageConfig } from '../sources/storage-config';
import { dumpFolderSourceOf, dumpSourceOfPath, unclaimedDumpSourceName } from '../sources/loaders';
import { loadIntoFor, type LoadInto } from '../sources/load-into';

export interface UnclaimedDump {
  readonly path: string;
  /** The source its path names (dumps/<source>/<file>), or a description when it names none. */
  readonly source: string;
}

export interface DumpCoverage {
  /** The dumps to restore and load. */
  readonly wanted: readonly string[];
  /** No source of that name here: its data is not received. */
  readonly unclaimed: readonly UnclaimedDump[];
  /** Of a source --load-into does not name: the operator's choice, not a gap. */
  readonly notSelected: readonly string[];
  /** Of a source node.conf's receive_ignore names (whether storage.conf names it or not): left out on purpose, not a gap. */
  readonly ignored: readonly string[];
  /** Sources named here (and by --load-into, when given; not in receive_ignore) with no dump in the backup: they stay as they were. */
  readonly absentSources: readonly string[];
  /**
   * The sources of the dumps left out on purpose (receive_ignore, --load-into): once one is loaded
   * here, a partial of it would land on a database that never had its base.
   */
  readonly skippedSources: readonly string[];
}

/** A renamed or added source on the sender, or one it dropped, must not leave a replica's database stale with exit 0. */
export function dumpCoverage(storage: StorageConfig, workDirectory: string, dumpPaths: readonly string[], loadInto: LoadInto | undefined,
  receiveIgnore: readonly string[] = []): DumpCoverage {
  const wanted: string[] = [];
  const unclaimed: UnclaimedDump[] = [];
  const notSelected: string[] = [];
  const ignored: string[] = [];
  const skipped = new Set<string>();
  const present = new Set<string>();
  for (const path of dumpPaths) {
    const name = dumpSourceOfPath(storage, workDirectory, path);
    const source = name ?? unclaimedDumpSourceName(storage, path);
    // receive_ignore first: a source of this node's own (its own backups' database) that the sender's
    // backups also name is never loaded over, nor one of the sender's that this replica leaves out.
    if (receiveIgnore.includes(source)) {
      ignored.push(path);
      skipped.add(source);
    } else if (name === undefined) unclaimed.push({ path, source });
    else if (isReceived(storage, name, loadInto, receiveIgnore)) {
      wanted.push(path);
      present.add(name);
    } else {
      notSelected.push(path);
      skipped.add(name);
    }
  }
  const absentSources = storage.sources.map((source) => source.name)
    .filter((name) => isReceived(storage, name, loadInto, receiveIgnore) && !present.has(name));
  return { wanted, unclaimed, notSelected, ignored, absentSources, skippedSources: [...skipped] };
}

/** Whether this receive loads the dumps of the source of that name: named in storage.conf and by --load-into (when given), not in receive_ignore. */
export function isReceived(storage: StorageConfig, name: string, loadInto: LoadInto | undefined, receiveIgnore: readonly string[]): boolean {
  if (receiveIgnore.includes(name)) return false;
  const source = storage.sources.find((candidate) => candidate.name === name);
  return source !== undefined && (loadInto === undefined || loadIntoFor(loadInto, source) !== undefined);
}

/** The sources dump paths name (<anything>/dumps/<source>/<file>), for a receiver without a storage.conf. */
export function dumpFolderSources(dumpPaths: readonly string[]): string[] {
  return [...new Set(dumpPaths.map(dumpFolderSourceOf).filter((source): source is string => source !== undefined))];
}
