// Decides which collections a MongoDB source dumps, from what the database lists: a source that would
// dump nothing, or leave out a collection it was asked for or holds, fails instead of passing empty.
import { DumpFailedError } from '../../common/errors';
import { shown } from '../../common/config/display';
import type { MongodbSource } from './storage-config';

/** One entry of listCollections (nameOnly still gives the type). */
export interface CollectionInfo {
  readonly name: string;
  readonly type?: string;
}

/** Types whose documents are the collection's own: dumped. A view's come from other collections: never dumped. */
const DUMPED_TYPES = new Set(['collection', 'timeseries']);

export function collectionsToDump(source: MongodbSource, listed: readonly CollectionInfo[]): string[] {
  // system.* collections are the server's (profile, views, js): mongodump leaves them out too.
  const infos = listed.filter((info) => !info.name.startsWith('system.'));
  const typeOf = new Map(infos.map((info) => [info.name, info.type ?? 'collection']));
  const where = `database ${source.database}`;
  if (source.collections.length > 0) {
    const missing = source.collections.filter((name) => !typeOf.has(name));
    if (missing.length > 0) {
      throw new DumpFailedError(source.name, `no collection ${missing.map(quoted).join(', ')} in ${where}`
        + ` (it has: ${infos.map((info) => quoted(info.name)).join(', ') || 'none'})`);
    }
    const undumpable = source.collections.filter((name) => !DUMPED_TYPES.has(typeOf.get(name) ?? ''));
    if (undumpable.length > 0) {
      throw new DumpFailedError(source.name, `${undumpable.map((name) => `${quoted(name)} is a ${typeOf.get(name)}`).join(', ')}`
        + ` in ${where}, whose documents are not its own; list the collections it reads instead`);
    }
    return [...source.collections];
  }
  const unknown = infos.filter((info) => !DUMPED_TYPES.has(info.type ?? 'collection') && info.type !== 'view');
  if (unknown.length > 0) {
    // A kind this code does not know may hold data: fail rather than leave it out unseen.
    throw new DumpFailedError(source.name, `${where} has collections of a type not dumped: `
      + `${unknown.map((info) => `${quoted(info.name)} (${info.type})`).join(', ')}; list the others with collection =`);
  }
  const dumped = infos.filter((info) => DUMPED_TYPES.has(info.type ?? 'collection')).map((info) => info.name).sort();
  if (dumped.length === 0) {
    throw new DumpFailedError(source.name, `${where} has no collection to dump `
      + `(${infos.length === 0 ? 'it does not exist or is empty: a misspelt database?' : 'only views'})`);
  }
  return dumped;
}

/** A name can hold any character but NUL: a control character is escaped, so the message stays one line. */
function quoted(name: string): string {
  return `"${shown(name)}"`;
}
