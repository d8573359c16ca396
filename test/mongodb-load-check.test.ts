// Regression: the native MongoDB complete load dropped the collection before reading the dump, so a
// truncated or damaged file left the live collection dropped (or half-imported). The file is read
// through once (a document at a time) before anything is dropped. No MongoDB server here: the URI
// names a closed port, so a load that got as far as connecting fails differently.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BSON } from 'mongodb';
import { LoadFailedError } from '../src/common/errors';
import { loadMongodbDump } from '../src/client/sources/mongodb-loader';
import { storageConfigFromText, type MongodbSource } from '../src/client/sources/storage-config';

test('a damaged or truncated collection dump fails before the collection is touched', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-mongo-load-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as { port: number }).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const source = storageConfigFromText('storage.conf',
    `source = events\nkind = mongodb\nuri = mongodb://127.0.0.1:${port}/?serverSelectionTimeoutMS=300\ndatabase = app\n`).sources[0] as MongodbSource;
  const whole = Buffer.concat([BSON.serialize({ _id: 1, name: 'first' }), BSON.serialize({ _id: 2, name: 'second' })]);
  const damaged = Buffer.from(whole);
  damaged[whole.length - 1] = 0x7f; // the second document's terminating NUL
  const cases: [string, Buffer][] = [['truncated', whole.subarray(0, whole.length - 3)], ['damaged', damaged]];
  for (const [name, bytes] of cases) {
    const path = join(folder, 'clicks.bson');
    await writeFile(path, bytes);
    for (const kind of ['whole', 'partial'] as const) {
      await assert.rejects(loadMongodbDump(source, path, kind), (error: unknown) => {
        assert.ok(error instanceof LoadFailedError, `${name} ${kind}: ${String(error)}`);
        assert.match(error.message, /is not a whole BSON dump of clicks; nothing dropped or written/, `${name} ${kind}`);
        return true;
      });
    }
  }
  // A whole file goes on to the server (here: none answers).
  await writeFile(join(folder, 'clicks.bson'), whole);
  await assert.rejects(loadMongodbDump(source, join(folder, 'clicks.bson'), 'whole'), /import of clicks failed/);
});
