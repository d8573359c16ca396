// Proves MongoDB sources against a real mongod (MONGODB_URI, or a mongod binary started here):
// per-collection BSON dumps through FIFOs, byte-identical after load, partial dumps as upserts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { BSON, Binary, Decimal128, Double, Int32, Long, MongoClient, ObjectId, type Document } from 'mongodb';
import { CorruptError, DumpFailedError } from '../src/common/errors';
import { bsonDocuments } from '../src/client/sources/bson-documents';
import { collectionFileName, collectionOfFileName } from '../src/client/sources/dump-names';
import { startDumps } from '../src/client/sources/dump-run';
import { dumpSourceOfPath, loadRestoredDumps, type RestoredDump } from '../src/client/sources/loaders';
import { isOnPath } from '../src/client/sources/shell';
import { storageConfigFromText } from '../src/client/sources/storage-config';
import { dumpToFiles } from './support/dump-to-files';

const skip = process.env.MONGODB_URI === undefined && !isOnPath('mongod')
  ? 'no MongoDB here: set MONGODB_URI or put mongod on PATH (MongoDB is not packaged by Debian)'
  : undefined;
if (skip !== undefined) console.log(`dump-mongodb server tests skipped: ${skip}`);

interface Mongo {
  readonly uri: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function startMongo(): Promise<Mongo> {
  if (process.env.MONGODB_URI !== undefined) return { uri: process.env.MONGODB_URI, stop: async () => undefined };
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-mongod-'));
  const port = await freePort();
  const server: ChildProcess = spawn('mongod', [
    '--dbpath', folder, '--port', String(port), '--bind_ip', '127.0.0.1', '--nounixsocket', '--quiet', '--logpath', join(folder, 'mongod.log'),
  ], { stdio: 'ignore' });
  const stop = async (): Promise<void> => {
    if (server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGKILL');
      await exited;
    }
    await rm(folder, { recursive: true, force: true });
  };
  const uri = `mongodb://127.0.0.1:${port}/`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 1000 });
    try {
      await client.db('admin').command({ ping: 1 });
      return { uri, stop };
    } catch (error) {
      if (server.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`mongod did not start: ${String(error)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      await client.close();
    }
  }
}


/** Every collection as its documents' exact BSON bytes, sorted by _id: equal means nothing changed. */
async function snapshot(client: MongoClient, database: string): Promise<Record<string, string[]>> {
  const result: Record<string, string[]> = {};
  const names = (await client.db(database).listCollections({}, { nameOnly: true }).toArray()).map((info) => info.name).sort();
  for (const name of names) {
    const documents = await client.db(database).collection(name).find({}, { sort: { _id: 1 }, raw: true }).toArray();
    result[name] = documents.map((document) => Buffer.from(document as unknown as Uint8Array).toString('hex'));
  }
  return result;
}

function sampleDocument(index: number, updatedAt: Date): Document {
  return {
    _id: new ObjectId(index.toString(16).padStart(24, '0')),
    small: new Int32(index),
    big: Long.fromString('9007199254740993'),
    ratio: new Double(index + 0.5),
    price: Decimal128.fromString(`${index}.10`),
    blob: new Binary(randomBytes(32)),
    nested: { tags: ['a', 'é€', index], when: new Date(Date.UTC(2020, 0, 1) + index * 1000) },
    updatedAt,
  };
}

/** Runs the body with mongodump/mongorestore hidden from PATH, so the native exporter and importer are used. */
async function withoutMongoTools(run: () => Promise<void>): Promise<void> {
  const original = process.env.PATH;
  process.env.PATH = (original ?? '').split(delimiter).filter((folder) => !isOnPath('mongodump', folder) && !isOnPath('mongorestore', folder)).join(delimiter);
  try {
    await run();
  } finally {
    process.env.PATH = original;
  }
}

for (const variant of ['tools if installed', 'native driver'] as const) {
  test(`MongoDB (${variant}): every collection through its FIFO, dropped, loaded back byte-identical; partial as upserts`, { skip }, async () => {
    const body = async (): Promise<void> => {
      const mongo = await startMongo();
      const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-dump-mongo-'));
      const database = `cpsbackup_test_${randomBytes(4).toString('hex')}`;
      const client = new MongoClient(mongo.uri, { serverSelectionTimeoutMS: 30_000 });
      try {
        const old = new Date(Date.now() - 86_400_000);
        await client.db(database).collection('events').insertMany(Array.from({ length: 3000 }, (_, index) => sampleDocument(index, old)));
        await client.db(database).collection('users.archive').insertMany(Array.from({ length: 50 }, (_, index) => sampleDocument(index, old)));
        const config = storageConfigFromText('storage.conf', `source = mongo\nkind = mongodb\nuri = ${mongo.uri}\ndatabase = ${database}\nsince_field = updatedAt\n`);

        const complete = await dumpToFiles(config, join(folder, 'work'), join(folder, 'complete'), { onFile: (file) => assert.equal(dumpSourceOfPath(config, join(folder, 'work'), file.path), file.sourceName) });
        assert.deepEqual(complete.map((dump) => relative(join(folder, 'complete', 'dumps', 'mongo'), dump.path)).sort(), ['events.bson', 'users.archive.bson']);
        const since = new Date();
        const events = client.db(database).collection('events');
        await events.updateMany({ small: { $lt: 100 } }, { $set: { ratio: new Double(-1), updatedAt: new Date() } });
        await events.insertMany(Array.from({ length: 200 }, (_, index) => sampleDocument(10_000 + index, new Date())));
        const partial = await dumpToFiles(config, join(folder, 'work'), join(folder, 'partial'), { partialSince: since, onFile: (file) => assert.equal(dumpSourceOfPath(config, join(folder, 'work'), file.path), file.sourceName) });
        const partialEvents = partial.find((dump) => dump.path.endsWith('events.bson')) as RestoredDump;
        let partialCount = 0;
        for await (const _ of bsonDocuments(createReadStream(partialEvents.path))) partialCount += 1;
        assert.equal(partialCount, 300, 'only documents changed since the complete dump');

        const source = await snapshot(client, database);
        await client.db(database).dropDatabase();
        assert.deepEqual((await loadRestoredDumps(config, complete)).map((result) => result.error ?? 'ok'), ['ok', 'ok']);
        for (const dump of complete) await assert.rejects(stat(dump.path), { code: 'ENOENT' });
        assert.deepEqual((await loadRestoredDumps(config, partial, { partial: true })).map((result) => result.error ?? 'ok'), ['ok', 'ok']);
        assert.deepEqual(await snapshot(client, database), source);
      } finally {
        await client.db(database).dropDatabase().catch(() => undefined);
        await client.close();
        await rm(folder, { recursive: true, force: true });
        await mongo.stop();
      }
    };
    if (variant === 'native driver') await withoutMongoTools(body);
    else await body();
  });
}

test('BSON stream splitting survives any chunking and refuses truncated or damaged streams', async () => {
  const documents = Array.from({ length: 50 }, (_, index) => BSON.serialize({ index, text: 'x'.repeat(index * 37) }));
  const whole = Buffer.concat(documents);
  for (const chunkSize of [1, 3, 7, 64, 4096, whole.length]) {
    const chunks: Buffer[] = [];
    for (let offset = 0; offset < whole.length; offset += chunkSize) chunks.push(whole.subarray(offset, offset + chunkSize));
    const split: Buffer[] = [];
    for await (const document of bsonDocuments(Readable.from(chunks))) split.push(Buffer.from(document));
    assert.deepEqual(split, documents);
  }
  const collect = async (bytes: Buffer): Promise<void> => {
    for await (const _ of bsonDocuments(Readable.from([bytes]))) void _;
  };
  await assert.rejects(collect(whole.subarray(0, whole.length - 3)), CorruptError);
  await assert.rejects(collect(Buffer.from([0xff, 0xff, 0xff, 0x7f, 0])), CorruptError);
});

test('collection names become one safe file name and come back unchanged', () => {
  for (const name of ['events', 'users.archive', 'a/b', '.hidden', '100%', 'é€']) {
    const fileName = collectionFileName(name);
    assert.ok(!fileName.includes('/') && !fileName.startsWith('.'), fileName);
    assert.equal(collectionOfFileName(fileName), name);
  }
  assert.equal(collectionOfFileName('dump'), undefined);
});

test('an unreachable MongoDB fails the dump with its error, and the native load keeps the file', async () => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-dump-mongo-'));
  try {
    // Port 1 on loopback refuses at once; the URI option keeps the driver from retrying for 30 s.
    const uri = 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300';
    const config = storageConfigFromText('storage.conf', `source = mongo\nkind = mongodb\nuri = ${uri}\ndatabase = app\ncollection = events\n`);
    await withoutMongoTools(async () => {
      // Collections are listed even when named (each must exist), so the failure comes before any dumper starts.
      await assert.rejects(startDumps(config, join(folder, 'work')),
        (error: unknown) => error instanceof DumpFailedError && error.source === 'mongo' && /cannot list collections of app: .*(ECONNREFUSED|Server selection)/i.test(error.message));
      const path = join(folder, 'restore', 'dumps', 'mongo', 'events.bson');
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, BSON.serialize({ _id: 1 }));
      const results = await loadRestoredDumps(config, [{ path, sourceName: 'mongo' }]);
      assert.equal(results[0].ok, false);
      assert.match(results[0].error ?? '', /import of events failed/);
      assert.ok((await stat(path)).isFile());
    });
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});
