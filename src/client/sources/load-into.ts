// `--load-into NAME` / `--load-into SOURCE=NAME`: which database sources a restore loads, and into
// which database, so a staging copy or a receiver never writes to the database the dump came from.
import { ConfigError } from '../../common/errors';
import { isDatabaseSource, type DumpSource, type StorageConfig } from './storage-config';

export interface LoadInto {
  /** NAME alone: every postgresql and mariadb source loads into it. */
  readonly database?: string;
  readonly bySource: ReadonlyMap<string, string>;
}

/** Checks the values against storage.conf: a SOURCE must be a database source there. */
export function parseLoadInto(values: readonly string[], storage: StorageConfig): LoadInto {
  let database: string | undefined;
  const bySource = new Map<string, string>();
  for (const value of values) {
    const equals = value.indexOf('=');
    const name = (equals < 0 ? value : value.slice(equals + 1)).trim();
    if (name === '') throw new ConfigError(storage.file, undefined, `--load-into "${value}": no database name`);
    if (equals < 0) {
      if (database !== undefined) throw new ConfigError(storage.file, undefined, `--load-into names two databases (${database}, ${name}) for every source`);
      database = name;
      continue;
    }
    const sourceName = value.slice(0, equals).trim();
    const source = storage.sources.find((candidate) => candidate.name === sourceName);
    if (source === undefined || !isDatabaseSource(source)) {
      throw new ConfigError(storage.file, undefined, `--load-into ${value}: no postgresql or mariadb source "${sourceName}" here`);
    }
    bySource.set(sourceName, name);
  }
  if (database === undefined && bySource.size === 0) throw new ConfigError(storage.file, undefined, '--load-into needs a database name');
  if (database !== undefined && !storage.sources.some(isDatabaseSource)) {
    throw new ConfigError(storage.file, undefined, '--load-into: no postgresql or mariadb source here (it does not apply to command, sqlite or mongodb sources)');
  }
  return { database, bySource };
}

/** The database `source` loads into under `loadInto`; undefined when loadInto does not cover it. */
export function loadIntoFor(loadInto: LoadInto, source: DumpSource): string | undefined {
  if (!isDatabaseSource(source)) return undefined;
  return loadInto.bySource.get(source.name) ?? loadInto.database;
}
