// Which of a backup's dumps a receiver loads, and what that leaves out: dumps of sources its
// storage.conf does not name (unclaimed, unless node.conf's receive_ignore leaves them out on purpose),
// and sources it names that the backup holds no dump of (absent).
import type { StorageConfig } from '../sources/storage-config';
import { dumpSourceOfPath, unclaimedDumpSourceName } from '../sources/loaders';
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
  /** Of a source node.conf's receive_ignore names and no source here does: left out on purpose, not a gap. */
  readonly ignored: readonly string[];
  /** Sources named here (and by --load-into, when given) with no dump in the backup: they stay as they were. */
  readonly absentSources: readonly string[];
}

/** A renamed or added source on the sender, or one it dropped, must not leave a replica's database stale with exit 0. */
export function dumpCoverage(storage: StorageConfig, workDirectory: string, dumpPaths: readonly string[], loadInto: LoadInto | undefined,
  receiveIgnore: readonly string[] = []): DumpCoverage {
  const isSelected = (name: string): boolean => {
    const source = storage.sources.find((candidate) => candidate.name === name);
    return source !== undefined && (loadInto === undefined || loadIntoFor(loadInto, source) !== undefined);
  };
  const wanted: string[] = [];
  const unclaimed: UnclaimedDump[] = [];
  const notSelected: string[] = [];
  const ignored: string[] = [];
  const present = new Set<string>();
  for (const path of dumpPaths) {
    const name = dumpSourceOfPath(storage, workDirectory, path);
    if (name === undefined) {
      // A source named here is loaded whatever receive_ignore says: only a dump nothing here claims can be ignored.
      const source = unclaimedDumpSourceName(storage, path);
      if (receiveIgnore.includes(source)) ignored.push(path);
      else unclaimed.push({ path, source });
    }
    else if (isSelected(name)) {
      wanted.push(path);
      present.add(name);
    } else notSelected.push(path);
  }
  const absentSources = storage.sources.map((source) => source.name).filter((name) => isSelected(name) && !present.has(name));
  return { wanted, unclaimed, notSelected, ignored, absentSources };
}
