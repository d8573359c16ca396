// Names of the dump files inside <work>/dumps/<source>/, and the way back from a name to what it holds.
// Collection names may hold "/" or start with ".", so they are percent-encoded into one safe path segment.
import type { DumpSource } from './storage-config';
import { DATA_FILE_NAME, ROUTINES_FILE_NAME, SCHEMA_FILE_NAME, TRIGGERS_FILE_NAME } from './tables/data-format';

export const DUMPS_FOLDER = 'dumps';
export const COMMAND_DUMP_NAME = 'dump';
export const SQLITE_DUMP_NAME = 'dump.sql';
const BSON_SUFFIX = '.bson';

export function collectionFileName(collection: string): string {
  return collection.replace(/[%/\\\0]|^\./g, (character) => `%${character.charCodeAt(0).toString(16).padStart(2, '0')}`) + BSON_SUFFIX;
}

export function collectionOfFileName(fileName: string): string | undefined {
  if (!fileName.endsWith(BSON_SUFFIX) || fileName.length === BSON_SUFFIX.length) return undefined;
  try {
    return decodeURIComponent(fileName.slice(0, -BSON_SUFFIX.length));
  } catch {
    return undefined;
  }
}

/** Whether a file of this name can be one of the source's dumps (guards loaders against stray files). */
export function isDumpFileName(source: DumpSource, fileName: string): boolean {
  switch (source.kind) {
    case 'command':
      return fileName === COMMAND_DUMP_NAME;
    case 'sqlite':
      return fileName === SQLITE_DUMP_NAME;
    case 'mongodb':
      return collectionOfFileName(fileName) !== undefined;
    case 'postgresql':
      return fileName === SCHEMA_FILE_NAME || fileName === DATA_FILE_NAME;
    case 'mariadb':
      return fileName === SCHEMA_FILE_NAME || fileName === DATA_FILE_NAME || fileName === TRIGGERS_FILE_NAME
        || fileName === ROUTINES_FILE_NAME;
  }
}
