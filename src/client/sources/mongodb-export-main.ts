// Native exporter, run as a child process when mongodump is absent: writes one collection as
// a stream of BSON documents (mongodump's .bson format) to stdout, which the parent made a FIFO.
import { once } from 'node:events';
import { BSON, MongoClient, type Document, type Filter } from 'mongodb';
import { MONGODB_EXPORT_ENV, type MongodbExportRequest } from './mongodb-export-request';

async function exportCollection(request: MongodbExportRequest): Promise<void> {
  const client = new MongoClient(request.uri);
  try {
    await client.connect();
    const filter: Filter<Document> = request.sinceField !== undefined && request.since !== undefined
      ? { [request.sinceField]: { $gte: new Date(request.since) } }
      : {};
    // raw: the server's own bytes, so no type (Int64, Decimal128, ...) is altered by a decode/encode round.
    const cursor = client.db(request.database).collection(request.collection).find(filter, { raw: true, batchSize: 1000 });
    for await (const document of cursor) {
      const bytes = document instanceof Uint8Array ? document : BSON.serialize(document);
      // The cursor fetches the next batch only when we ask: backpressure from the FIFO reaches the server.
      if (!process.stdout.write(bytes)) await once(process.stdout, 'drain');
    }
    // stdout cannot be closed; an empty write's callback runs once everything before it is flushed.
    await new Promise<void>((resolve, reject) => process.stdout.write('', (error?: Error | null) => (error ? reject(error) : resolve())));
  } finally {
    await client.close();
  }
}

const text = process.env[MONGODB_EXPORT_ENV];
if (text === undefined) {
  process.stderr.write(`${MONGODB_EXPORT_ENV} is not set; this program is started by cpsbackup\n`);
  process.exit(2);
}
exportCollection(JSON.parse(text) as MongodbExportRequest).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`mongodb export failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
