// Reads etc/backup/storage.conf into typed, frozen dump sources (`source = NAME` opens a block).
// Every rejection is a ConfigError naming the file and line, so an operator can fix it at once.
import { isValidSourceName, SOURCE_NAME_RULE } from '../../common/config/source-name';
import { ConfigError } from '../../common/errors';
import { parseConfigText, readConfigFile, type ConfigLine, type ConfigText } from '../../common/config/parse';
import { toInteger } from '../../common/config/values';
import { withFileVariable } from './file-placeholder';
import { DATABASE_KEYS, DATABASE_REPEATABLE_KEYS, databaseSettingsOf, type DatabaseSettings } from './database-config';

export type SourceKind = 'command' | 'sqlite' | 'mongodb' | 'postgresql' | 'mariadb';

interface SourceBase {
  readonly name: string;
  readonly kind: SourceKind;
  /** Line of the `source =` key, for messages that point at the block. */
  readonly line: number;
  readonly timeoutSeconds: number;
  /** Shell command whose first output line labels the backup with the application's version. */
  readonly versionCommand?: string;
}

/** Any tool that writes a dump to stdout and reads it back on stdin (or from `{file}`). */
export interface CommandSource extends SourceBase {
  readonly kind: 'command';
  readonly dump: string;
  readonly load: string;
  /** Contains `{since}`; replaced by an ISO-8601 UTC timestamp for partial dumps. */
  readonly dumpPartial?: string;
  readonly loadPartial?: string;
}

export interface SqliteSource extends SourceBase {
  readonly kind: 'sqlite';
  readonly path: string;
}

export interface MongodbSource extends SourceBase {
  readonly kind: 'mongodb';
  readonly uri: string;
  readonly database: string;
  /** Empty: every collection the database holds when the dump starts. */
  readonly collections: readonly string[];
  /** Field holding a document's last change time; enables partial dumps and upsert loads. */
  readonly sinceField?: string;
}

/** Tables of a PostgreSQL or MariaDB/MySQL database, dumped by the source itself (see database-config.ts). */
export interface DatabaseSource extends SourceBase, DatabaseSettings {
  readonly kind: 'postgresql' | 'mariadb';
}

export type DumpSource = CommandSource | SqliteSource | MongodbSource | DatabaseSource;

export function isDatabaseSource(source: DumpSource): source is DatabaseSource {
  return source.kind === 'postgresql' || source.kind === 'mariadb';
}

export interface StorageConfig {
  readonly file: string;
  readonly sources: readonly DumpSource[];
}

export const DEFAULT_TIMEOUT_SECONDS = 3600;
const COMMON_KEYS = ['kind', 'timeout', 'version_command'];
const KIND_KEYS: Readonly<Record<SourceKind, readonly string[]>> = {
  command: ['dump', 'load', 'dump_partial', 'load_partial'],
  sqlite: ['path'],
  mongodb: ['uri', 'database', 'collection', 'since_field'],
  postgresql: DATABASE_KEYS,
  mariadb: DATABASE_KEYS,
};
const KIND_NAMES = 'command, sqlite, mongodb, postgresql or mariadb';
const REPEATABLE_KEYS = new Set(['collection', ...DATABASE_REPEATABLE_KEYS]);
const ALL_KEYS = new Set([...COMMON_KEYS, ...Object.values(KIND_KEYS).flat()]);

export function loadStorageConfig(file: string): StorageConfig {
  return storageConfigOf(readConfigFile(file));
}

export function storageConfigFromText(file: string, text: string): StorageConfig {
  return storageConfigOf(parseConfigText(file, text));
}

function storageConfigOf(config: ConfigText): StorageConfig {
  const blocks: { header: ConfigLine; lines: ConfigLine[] }[] = [];
  for (const entry of config.lines) {
    if (entry.key === 'source') {
      blocks.push({ header: entry, lines: [] });
    } else if (blocks.length === 0) {
      throw new ConfigError(config.file, entry.line, `"${entry.key}" before any "source =" line`);
    } else if (!ALL_KEYS.has(entry.key)) {
      throw new ConfigError(config.file, entry.line, `unknown key "${entry.key}"`);
    } else {
      blocks[blocks.length - 1].lines.push(entry);
    }
  }
  const names = new Map<string, number>();
  const sources = blocks.map(({ header, lines }) => {
    if (!isValidSourceName(header.value)) {
      throw new ConfigError(config.file, header.line, `invalid source name "${header.value}" (${SOURCE_NAME_RULE})`);
    }
    const previous = names.get(header.value);
    if (previous !== undefined) {
      throw new ConfigError(config.file, header.line, `duplicate source "${header.value}" (first at line ${previous})`);
    }
    names.set(header.value, header.line);
    return Object.freeze(sourceOf(config.file, header, lines));
  });
  return Object.freeze({ file: config.file, sources: Object.freeze(sources) });
}

function sourceOf(file: string, header: ConfigLine, lines: readonly ConfigLine[]): DumpSource {
  const single = new Map<string, ConfigLine>();
  for (const entry of lines) {
    // since_field holds one field for mongodb, but one table.column per line for databases.
    const isRepeatable = REPEATABLE_KEYS.has(entry.key) && (entry.key !== 'since_field' || kindOf(lines) !== 'mongodb');
    if (single.has(entry.key) && !isRepeatable) {
      throw new ConfigError(file, entry.line, `"${entry.key}" may appear only once per source`);
    }
    single.set(entry.key, entry);
  }
  const kindLine = single.get('kind');
  if (kindLine === undefined) {
    throw new ConfigError(file, header.line, `source "${header.value}" has no "kind =" (${KIND_NAMES})`);
  }
  if (!(kindLine.value in KIND_KEYS)) {
    throw new ConfigError(file, kindLine.line, `kind must be ${KIND_NAMES}, got "${kindLine.value}"`);
  }
  const kind = kindLine.value as SourceKind;
  for (const entry of lines) {
    if (!COMMON_KEYS.includes(entry.key) && !KIND_KEYS[kind].includes(entry.key)) {
      throw new ConfigError(file, entry.line, `"${entry.key}" does not apply to a source of kind ${kind}`);
    }
  }
  const required = (key: string): string => {
    const entry = single.get(key);
    if (entry === undefined) throw new ConfigError(file, header.line, `source "${header.value}" needs "${key} ="`);
    if (entry.value === '') throw new ConfigError(file, entry.line, `"${key}" must not be empty`);
    return entry.value;
  };
  const optional = (key: string): string | undefined => {
    const entry = single.get(key);
    if (entry !== undefined && entry.value === '') throw new ConfigError(file, entry.line, `"${key}" must not be empty`);
    return entry?.value;
  };
  const timeoutLine = single.get('timeout');
  const base = {
    name: header.value,
    line: header.line,
    timeoutSeconds: timeoutLine === undefined ? DEFAULT_TIMEOUT_SECONDS : toInteger(file, timeoutLine, 1, 7 * 24 * 3600),
    versionCommand: optional('version_command'),
  };
  switch (kind) {
    case 'command': {
      const dumpPartial = optional('dump_partial');
      const loadPartial = optional('load_partial');
      const dumpPartialLine = single.get('dump_partial');
      if (dumpPartialLine !== undefined && !dumpPartialLine.value.includes('{since}')) {
        throw new ConfigError(file, dumpPartialLine.line, 'dump_partial must contain the {since} placeholder');
      }
      if ((dumpPartial === undefined) !== (loadPartial === undefined)) {
        const present = single.get(dumpPartial === undefined ? 'load_partial' : 'dump_partial') as ConfigLine;
        throw new ConfigError(file, present.line, 'dump_partial and load_partial go together: a partial dump needs its own loader');
      }
      for (const key of ['load', 'load_partial']) {
        const entry = single.get(key);
        try {
          if (entry !== undefined) withFileVariable(entry.value);
        } catch (error) {
          throw new ConfigError(file, entry?.line, `${key}: ${(error as Error).message}`);
        }
      }
      return { ...base, kind, dump: required('dump'), load: required('load'), dumpPartial, loadPartial };
    }
    case 'sqlite': {
      const path = required('path');
      if (!path.startsWith('/')) throw new ConfigError(file, (single.get('path') as ConfigLine).line, `path must be absolute, got "${path}"`);
      return { ...base, kind, path };
    }
    case 'mongodb': {
      const collections = lines.filter((entry) => entry.key === 'collection').map((entry) => {
        if (entry.value === '' || entry.value.includes('\0') || entry.value.includes('$')) {
          throw new ConfigError(file, entry.line, `invalid collection name "${entry.value}"`);
        }
        return entry.value;
      });
      return {
        ...base,
        kind,
        uri: required('uri'),
        database: required('database'),
        collections: Object.freeze(collections),
        sinceField: optional('since_field'),
      };
    }
    case 'postgresql':
    case 'mariadb':
      return { ...base, kind, ...databaseSettingsOf(file, kind, header, lines) };
  }
}

function kindOf(lines: readonly ConfigLine[]): string | undefined {
  return lines.find((entry) => entry.key === 'kind')?.value;
}
