// Before a partial MongoDB dump: a since_field must hold BSON dates. The partial query is
// {field: {$gte: Date}}, which matches dates only, so epoch numbers or ISO strings gave empty partials forever.
import type { Document, Filter } from 'mongodb';
import { DumpFailedError } from '../../common/errors';
import type { MongodbSource } from './storage-config';

/** The documents a partial dump would never select: the field is there, but not a date. */
export function notDateFilter(sinceField: string): Filter<Document> {
  return { [sinceField]: { $exists: true, $not: { $type: 'date' } } };
}

/** The failure for a collection whose since_field holds `notDates` (> 0) documents with other types; undefined when none. */
export function sinceFieldProblem(source: MongodbSource, collection: string, notDates: number): DumpFailedError | undefined {
  if (notDates === 0 || source.sinceField === undefined) return undefined;
  return new DumpFailedError(source.name, `collection ${collection} of ${source.database}: since_field ${source.sinceField} holds values `
    + 'that are not BSON dates (epoch numbers or ISO strings?); a partial dump selects documents whose field is a date at or after '
    + `the base backup's start, so these would never be in one: store dates there, or use a command source with its own query`);
}

/** The part of a driver's collection the check needs. */
export interface CountingCollection {
  countDocuments(filter: Filter<Document>, options: { limit: number }): Promise<number>;
}

/** Throws DumpFailedError naming the collection and field when one document's since_field is not a date (one is enough). */
export async function checkSinceField(source: MongodbSource, collectionName: string, collection: CountingCollection): Promise<void> {
  if (source.sinceField === undefined) return;
  const problem = sinceFieldProblem(source, collectionName, await collection.countDocuments(notDateFilter(source.sinceField), { limit: 1 }));
  if (problem !== undefined) throw problem;
}
