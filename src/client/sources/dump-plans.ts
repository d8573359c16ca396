// Turns each dump source into the processes to start: one per dump file, each writing to its stdout.
// The stdout becomes the FIFO, so every kind gets the same exit-status, timeout and kill handling.
import { join } from 'node:path';
import { stat } from 'node:fs/promises';
import { DumpFailedError, errorMessage } from '../../common/errors';
import { COMMAND_DUMP_NAME, SQLITE_DUMP_NAME, collectionFileName } from './dump-names';
import { isOnPath, shellCommand } from './shell';
import type { CommandSource, DumpSource, MongodbSource, SqliteSource } from './storage-config';
import { MONGODB_EXPORT_ENV, type MongodbExportRequest } from './mongodb-export-request';
import { collectionsToDump, type CollectionInfo } from './mongodb-collections';
import type { SourcePlan } from './database-dump-plan';
import type { DumpPlan } from './dump-plan';
import { isHeldByBase } from './source-identity';
import { checkSinceField } from './mongodb-since-check';
import type { Db } from 'mongodb';
import { runAsArgument, sqliteDumpPlace } from './sqlite-dump-user';

export type { DumpPlan } from './dump-plan';

export type { SourcePlan } from './database-dump-plan';

/** How long the sqlite3 CLI waits for a writer's lock before giving up (a commit rarely takes this long). */
const SQLITE_BUSY_MILLISECONDS = 60_000;
/**
 * Each wait for a lock gets at most this share of the source's timeout, so that a lock held too long
 * fails as "database is locked" rather than as a timeout: `.dump` waits once per statement it starts
 * while the lock is held (twice with sqlite3 3.40), and the dump itself needs time too.
 */
const SQLITE_BUSY_SHARE = 0.25;

/** `workDirectory` holds the credential files of database sources while their dumpers run. */
export async function planDumps(source: DumpSource, partialSince: Date | undefined, workDirectory: string): Promise<SourcePlan> {
  switch (source.kind) {
    case 'command':
      return { plans: [planCommand(source, partialSince)], labels: {} };
    case 'sqlite':
      return { plans: [await planSqlite(source)], labels: {} };
    case 'mongodb':
      return { plans: await planMongodb(source, partialSince), labels: {} };
    case 'postgresql':
    case 'mariadb': {
      // Loaded on first use, like the MongoDB driver below: the PostgreSQL and MariaDB dialects are
      // two dozen modules that a backup without database sources never needs.
      const { planDatabaseDumps } = await import('./database-dump-plan');
      return planDatabaseDumps(source, partialSince, workDirectory);
    }
  }
}

/**
 * A source without dump_partial is dumped completely even in a partial backup: complete is always
 * safe. Database sources always dump partially then (tables without since_field whole, mirrored).
 * A source the base backup did not hold as it is now is dumped whole: changes since then would be
 * loaded onto data the chain never had.
 */
export function isPartialDump(source: DumpSource, partialSince: Date | undefined): boolean {
  if (partialSince === undefined || !isHeldByBase(source, partialSince)) return false;
  if (source.kind === 'command') return source.dumpPartial !== undefined;
  if (source.kind === 'mongodb') return source.sinceField !== undefined;
  return source.kind === 'postgresql' || source.kind === 'mariadb';
}

function planCommand(source: CommandSource, partialSince: Date | undefined): DumpPlan {
  const command = isPartialDump(source, partialSince) && source.dumpPartial !== undefined && partialSince !== undefined
    ? source.dumpPartial.replaceAll('{since}', partialSince.toISOString())
    : source.dump;
  const refused = (reason: Error): Error => new DumpFailedError(source.name, `not run: ${reason.message}`);
  return { fileName: COMMAND_DUMP_NAME, ...shellCommand(command, { refused }) };
}

/**
 * The sqlite3 CLI's `.dump` reads the whole database inside one read transaction (a savepoint),
 * so the SQL text is a consistent snapshot while the application keeps writing, and it streams.
 * better-sqlite3's backup() needs a seekable target and serialize() holds the database in memory.
 * It runs under sqlite-dump-main.js: `.dump` writes its errors (a lock, a corrupt page, not a
 * database) into the dump and exits 0, which would store a broken dump as a good one.
 */
async function planSqlite(source: SqliteSource): Promise<DumpPlan> {
  if (!isOnPath('sqlite3')) {
    throw new DumpFailedError(source.name, 'the sqlite3 command is not installed (Debian package sqlite3)');
  }
  try {
    const info = await stat(source.path);
    if (!info.isFile()) throw new Error('not a regular file');
  } catch (error) {
    // The CLI would silently create an empty database and we would back up nothing.
    throw new DumpFailedError(source.name, `cannot dump ${source.path}: ${errorMessage(error)}`);
  }
  const place = sqliteDumpPlace(source.name, source.path);
  const busyMilliseconds = Math.min(SQLITE_BUSY_MILLISECONDS, Math.floor(source.timeoutSeconds * 1000 * SQLITE_BUSY_SHARE));
  return {
    fileName: SQLITE_DUMP_NAME,
    file: process.execPath,
    args: [join(__dirname, 'sqlite-dump-main.js'), ...(place.runAs === undefined ? [] : [runAsArgument(place.runAs)]),
      '-bail', '-cmd', `.timeout ${busyMilliseconds}`, place.path, '.dump'],
  };
}

async function planMongodb(source: MongodbSource, partialSince: Date | undefined): Promise<DumpPlan[]> {
  const since = isPartialDump(source, partialSince) ? partialSince : undefined;
  // One connection for the listing and, in a partial, the since_field check.
  const collections = await withMongoDatabase(source, `cannot list collections of ${source.database}`, async (database) => {
    const listed = collectionsToDump(source, await listCollections(source, database));
    if (since !== undefined) await checkSinceFields(source, listed, database);
    return listed;
  });
  const hasMongodump = isOnPath('mongodump');
  return collections.map((collection) => {
    const fileName = collectionFileName(collection);
    if (hasMongodump) {
      const args = [`--uri=${source.uri}`, `--db=${source.database}`, `--collection=${collection}`, '--out=-', '--quiet'];
      if (since !== undefined && source.sinceField !== undefined) {
        args.push(`--query=${JSON.stringify({ [source.sinceField]: { $gte: { $date: since.toISOString() } } })}`);
      }
      return { fileName, file: 'mongodump', args };
    }
    const request: MongodbExportRequest = {
      uri: source.uri,
      database: source.database,
      collection,
      sinceField: since === undefined ? undefined : source.sinceField,
      since: since?.toISOString(),
    };
    // The URI may hold a password: pass it in the environment, not in argv where ps shows it.
    return {
      fileName,
      file: process.execPath,
      args: [join(__dirname, 'mongodb-export-main.js')],
      env: { ...process.env, [MONGODB_EXPORT_ENV]: JSON.stringify(request) },
    };
  });
}

/** Both exporters select {since_field: {$gte: date}}: a field holding other types must fail the run, not give empty partials. */
async function checkSinceFields(source: MongodbSource, collections: readonly string[], database: Db): Promise<void> {
  try {
    for (const collection of collections) await checkSinceField(source, collection, database.collection(collection));
  } catch (error) {
    if (error instanceof DumpFailedError) throw error;
    throw new DumpFailedError(source.name, `cannot check since_field ${source.sinceField ?? ''} in ${source.database}: ${errorMessage(error)}`);
  }
}

/** Every collection with its type, even when `collection =` names them: each must exist (mongodb-collections.ts). */
async function listCollections(source: MongodbSource, database: Db): Promise<CollectionInfo[]> {
  try {
    // With `collection =`, a least-privilege role may hold only `find` on those: authorizedCollections
    // (with nameOnly) needs no listCollections privilege and lists what the user may read, which must
    // hold each named collection. Without it the whole database is asked for: a listing cut to what a
    // role may read would leave the rest out unseen, so the full listing (and its privilege) is needed.
    const options = source.collections.length > 0 ? { nameOnly: true, authorizedCollections: true } : { nameOnly: true };
    const infos = await database.listCollections({}, options).toArray();
    return infos.map((info) => ({ name: info.name, type: info.type }));
  } catch (error) {
    throw new DumpFailedError(source.name, `cannot list collections of ${source.database}: ${errorMessage(error)}`);
  }
}

/** Runs `use` on the source's database over one connection; a failure to connect is `failure`, with the cause. */
async function withMongoDatabase<T>(source: MongodbSource, failure: string, use: (database: Db) => Promise<T>): Promise<T> {
  // Loaded on first use: the driver costs ~0.1 s at start-up, and most nodes have no MongoDB.
  const { MongoClient } = await import('mongodb');
  const client = new MongoClient(source.uri);
  try {
    try {
      await client.connect();
    } catch (error) {
      throw new DumpFailedError(source.name, `${failure}: ${errorMessage(error)}`);
    }
    return await use(client.db(source.database));
  } finally {
    await client.close();
  }
}
