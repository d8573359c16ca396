// Regression: a MongoDB since_field was never checked. The partial query {field: {$gte: Date}} matches
// BSON dates only, so an application storing epoch numbers or ISO strings got partial dumps of 0
// documents forever, exit 0. A partial run now counts documents whose field is there but not a date
// and fails naming the collection and field. No MongoDB server here: the decision is tested on its own,
// and the wiring by a partial plan that must reach the server before it dumps (a closed port fails it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { DumpFailedError } from '../src/common/errors';
import { planDumps } from '../src/client/sources/dump-plans';
import { checkSinceField, notDateFilter } from '../src/client/sources/mongodb-since-check';
import { PartialBase } from '../src/client/sources/partial-base';
import { identityLabels } from '../src/client/sources/source-identity';
import { storageConfigFromText, type MongodbSource } from '../src/client/sources/storage-config';

function mongoSource(uri: string): MongodbSource {
  const source = storageConfigFromText('storage.conf',
    `source = events\nkind = mongodb\nuri = ${uri}\ndatabase = app\ncollection = clicks\nsince_field = updatedAt\n`).sources[0];
  assert.equal(source.kind, 'mongodb');
  return source as MongodbSource;
}

test('a since_field holding anything but dates fails the partial dump, naming the collection and field', async () => {
  const source = mongoSource('mongodb://127.0.0.1:1');
  assert.deepEqual(notDateFilter('updatedAt'), { updatedAt: { $exists: true, $not: { $type: 'date' } } });
  const asked: unknown[] = [];
  const counting = (count: number) => ({
    countDocuments: (filter: unknown, options: { limit: number }) => {
      asked.push(filter, options);
      return Promise.resolve(count);
    },
  });
  await checkSinceField(source, 'clicks', counting(0));
  assert.deepEqual(asked, [notDateFilter('updatedAt'), { limit: 1 }], 'one document is enough to refuse');
  await assert.rejects(checkSinceField(source, 'clicks', counting(1)), (error: unknown) => {
    assert.ok(error instanceof DumpFailedError);
    assert.match(error.message, /collection clicks of app: since_field updatedAt holds values that are not BSON dates/);
    return true;
  });
});

test('a partial MongoDB plan checks the since_field before any dumper starts; a complete one does not ask', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as { port: number }).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const source = mongoSource(`mongodb://127.0.0.1:${port}/?serverSelectionTimeoutMS=300`);
  const complete = await planDumps(source, undefined, '/nonexistent');
  assert.equal(complete.plans.length, 1);
  await assert.rejects(planDumps(source, new PartialBase(Date.now(), identityLabels([source]), 1), '/nonexistent'), (error: unknown) => {
    assert.ok(error instanceof DumpFailedError, String(error));
    assert.match(error.message, /cannot check since_field updatedAt in app/);
    return true;
  });
});
