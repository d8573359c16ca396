// What a dump source is, beyond its name: its kind and where its data lives, recorded on every backup
// with dumps so that a partial dump is made only on top of a backup that held that very source.
import { createHash } from 'node:crypto';
import { PartialBase } from './partial-base';
import type { DumpSource } from './storage-config';

/** `dumps.source.<name>` → the source's identity, on every backup that dumped it (complete or partial). */
const SOURCE_LABEL_PREFIX = 'dumps.source.';

export function sourceIdentityLabel(sourceName: string): string {
  return `${SOURCE_LABEL_PREFIX}${sourceName}`;
}

/** The dump sources a backup holds, by its labels, in name order. */
export function dumpSourcesOf(labels: Readonly<Record<string, string>>): string[] {
  return Object.keys(labels).filter((key) => key.startsWith(SOURCE_LABEL_PREFIX)).map((key) => key.slice(SOURCE_LABEL_PREFIX.length)).sort();
}

/**
 * Kind and location, never a password: a URI loses its user information and options, and a command
 * is known by a hash of its dump command (it may hold a password, and any edit may dump other data).
 */
export function sourceIdentity(source: DumpSource): string {
  switch (source.kind) {
    case 'command':
      return `command sha256:${createHash('sha256').update(source.dump).digest('hex').slice(0, 32)}`;
    case 'sqlite':
      return `sqlite ${source.path}`;
    case 'mongodb':
      return `mongodb ${withoutCredentials(source.uri)} database ${source.database}`;
    case 'postgresql':
    case 'mariadb': {
      const where = source.socket !== undefined ? `socket ${source.socket}` : `${source.host ?? 'localhost'}:${source.port ?? 'default'}`;
      return `${source.kind} ${where} database ${source.database}${source.kind === 'postgresql' ? ` schema ${source.schema}` : ''}`;
    }
  }
}

/** scheme://hosts/path: user information (user:password@) and options (?...) dropped. */
function withoutCredentials(uri: string): string {
  return uri.replace(/^([a-z0-9+.-]*:\/\/)[^@/?]*@/i, '$1').replace(/[?#].*$/s, '');
}

export function identityLabels(sources: readonly DumpSource[]): Record<string, string> {
  return Object.fromEntries(sources.map((source) => [sourceIdentityLabel(source.name), sourceIdentity(source)]));
}

/**
 * Whether changes since `partialSince` are enough for this source: the base backup dumped the same
 * source (kind, location, database), whole or on top of a base that did, back to a complete backup.
 * A source added since, or pointed at another database, or a base made before these labels (or
 * without storage.conf) holds nothing to build on: the source must be dumped whole. A plain Date is
 * the caller's own promise (no base backup to ask).
 */
export function isHeldByBase(source: DumpSource, partialSince: Date): boolean {
  if (!(partialSince instanceof PartialBase)) return true;
  return partialSince.labels[sourceIdentityLabel(source.name)] === sourceIdentity(source);
}
