// Regression: a MongoDB since_field was never checked. The partial query {field: {$gte: Date}} matches
// BSON dates only, so an application storing epoch numbers or ISO strings got partial dumps of 0
// documents forever, exit 0. A partial run now counts documents whose field is there but not a date
// and fails naming the collection and field. No MongoDB server here: the decision is tested on its own
// (see the note at the end).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DumpFailedError } from '../src/common/errors';
import { checkSinceField, notDateFilter } from '../src/client/sources/mongodb-since-check';
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

// Not tested here: that planMongodb calls checkSinceFields for partial plans only. Every plan now lists
// the database's collections first (3f4c810), so without a mongod no plan gets that far.
