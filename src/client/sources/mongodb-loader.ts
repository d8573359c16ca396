// Loads a restored collection dump once a first pass found it whole: mongorestore --drop when
// installed, else the driver (drop, then insertMany in batches). A partial dump is applied as upserts
// by _id, always by the driver, since mongorestore can only insert.
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
// Loaded on first use: the driver costs ~0.1 s at start-up, and most nodes have no MongoDB.
import type { AnyBulkWriteOperation, Document } from 'mongodb';
import { LoadFailedError, errorMessage } from '../../common/errors';
import { bsonDocuments } from './bson-documents';
import { collectionOfFileName } from './dump-names';
import { runLoader } from './run-loader';
import { isOnPath } from './shell';
import type { MongodbSource } from './storage-config';
import type { DumpKind } from './dump-kind';

const BATCH_DOCUMENTS = 1000;
const BATCH_BYTES = 8 * 1024 * 1024;
/** mongorestore exits 0 even when documents were rejected; its summary line says how many. */
const FAILED_DOCUMENTS = /(\d+) document\(s\) failed to restore/;

/**
 * A partial dump (recorded so when dumped) is always applied as upserts by _id, whatever this node's
 * since_field: mongorestore --drop would leave only its recent documents.
 */
export async function loadMongodbDump(source: MongodbSource, path: string, kind: DumpKind): Promise<void> {
  const collection = collectionOfFileName(basename(path));
  if (collection === undefined) throw new LoadFailedError(source.name, `${path} is not named <collection>.bson`);
  const isUpsert = kind === 'partial' || (kind === 'as-configured' && source.sinceField !== undefined);
  await checkDumpFile(source, collection, path);
  if (!isUpsert && isOnPath('mongorestore')) {
    const args = [`--uri=${source.uri}`, `--db=${source.database}`, `--collection=${collection}`, '--drop', path];
    const outcome = await runLoader(source.name, { file: 'mongorestore', args }, source.timeoutSeconds);
    const failed = FAILED_DOCUMENTS.exec(outcome.stderrTail);
    if (failed !== null && Number(failed[1]) > 0) {
      throw new LoadFailedError(source.name, `mongorestore rejected ${failed[1]} document(s) of ${collection}\n${outcome.stderrTail}`);
    }
    return;
  }
  try {
    await importNatively(source, collection, path, isUpsert);
  } catch (error) {
    if (error instanceof LoadFailedError) throw error;
    throw new LoadFailedError(source.name, `import of ${collection} failed: ${errorMessage(error)}`);
  }
}

/**
 * Reads the whole file once, a document at a time, before anything is dropped or written: a truncated
 * or damaged dump fails the load with the live collection as it was (it was dropped first, then the
 * import stopped at the damage).
 */
async function checkDumpFile(source: MongodbSource, collection: string, path: string): Promise<void> {
  const { BSON } = await import('mongodb');
  try {
    for await (const bytes of bsonDocuments(createReadStream(path))) BSON.deserialize(bytes, { promoteValues: false, promoteBuffers: false });
  } catch (error) {
    throw new LoadFailedError(source.name, `${path} is not a whole BSON dump of ${collection}; nothing dropped or written: ${errorMessage(error)}`);
  }
}

async function importNatively(source: MongodbSource, collectionName: string, path: string, isUpsert: boolean): Promise<void> {
  const { BSON, MongoClient, MongoServerError } = await import('mongodb');
  const client = new MongoClient(source.uri);
  try {
    await client.connect();
    const collection = client.db(source.database).collection(collectionName);
    if (!isUpsert) await dropIfExists(collection.drop.bind(collection), MongoServerError);
    let batch: Document[] = [];
    let batchBytes = 0;
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      if (isUpsert) {
        const operations: AnyBulkWriteOperation<Document>[] = batch.map((document) => ({
          replaceOne: { filter: { _id: document._id }, replacement: document, upsert: true },
        }));
        await collection.bulkWrite(operations, { ordered: true });
      } else {
        await collection.insertMany(batch, { ordered: true });
      }
      batch = [];
      batchBytes = 0;
    };
    // promoteValues false keeps Int32/Int64/Double wrappers, so types survive the round trip.
    for await (const bytes of bsonDocuments(createReadStream(path))) {
      batch.push(BSON.deserialize(bytes, { promoteValues: false, promoteBuffers: false }));
      batchBytes += bytes.length;
      if (batch.length >= BATCH_DOCUMENTS || batchBytes >= BATCH_BYTES) await flush();
    }
    await flush();
  } finally {
    await client.close();
  }
}

async function dropIfExists(drop: () => Promise<boolean>, MongoServerError: typeof import('mongodb').MongoServerError): Promise<void> {
  try {
    await drop();
  } catch (error) {
    if (error instanceof MongoServerError && (error.code === 26 || error.codeName === 'NamespaceNotFound')) return;
    throw error;
  }
}
