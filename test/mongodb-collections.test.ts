// Regression: a MongoDB source listed only {type: 'collection'} and never checked `collection =`, so a
// misspelt database or collection dumped nothing and -e exited 0, and timeseries collections were left
// out unseen. Proves the decision (no server needed): fail on nothing to dump or a missing collection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DumpFailedError } from '../src/common/errors';
import { collectionsToDump, type CollectionInfo } from '../src/client/sources/mongodb-collections';
import { storageConfigFromText, type MongodbSource } from '../src/client/sources/storage-config';

function sourceOf(collections: readonly string[] = []): MongodbSource {
  const lines = ['source = mongo', 'kind = mongodb', 'uri = mongodb://127.0.0.1:1/', 'database = app', ...collections.map((name) => `collection = ${name}`)];
  return storageConfigFromText('storage.conf', `${lines.join('\n')}\n`).sources[0] as MongodbSource;
}

function failure(run: () => unknown, message: RegExp): void {
  assert.throws(run, (error: unknown) => error instanceof DumpFailedError && error.source === 'mongo' && message.test(error.message));
}

const LISTED: CollectionInfo[] = [
  { name: 'users', type: 'collection' },
  { name: 'metrics', type: 'timeseries' },
  { name: 'active_users', type: 'view' },
  { name: 'system.views', type: 'collection' },
  { name: 'events', type: 'collection' },
];

test('without collection =, every collection and timeseries collection is dumped, views and system.* are not', () => {
  assert.deepEqual(collectionsToDump(sourceOf(), LISTED), ['events', 'metrics', 'users']);
});

test('a database with no collection (missing, misspelt, empty) fails instead of dumping nothing', () => {
  failure(() => collectionsToDump(sourceOf(), []), /database app has no collection to dump \(it does not exist or is empty: a misspelt database\?\)/);
  failure(() => collectionsToDump(sourceOf(), [{ name: 'v', type: 'view' }, { name: 'system.profile', type: 'collection' }]), /no collection to dump \(only views\)/);
});

test('a collection = that the database does not hold fails, naming it and what the database has', () => {
  failure(() => collectionsToDump(sourceOf(['users', 'evnets']), LISTED), /no collection "evnets" in database app \(it has: "users", "metrics", "active_users", "events"\)/);
  failure(() => collectionsToDump(sourceOf(['users']), []), /no collection "users" in database app \(it has: none\)/);
  failure(() => collectionsToDump(sourceOf(['active_users']), LISTED), /"active_users" is a view in database app/);
  assert.deepEqual(collectionsToDump(sourceOf(['metrics', 'users']), LISTED), ['metrics', 'users']);
});

test('a collection of a type this code does not know fails rather than being left out', () => {
  failure(() => collectionsToDump(sourceOf(), [...LISTED, { name: 'future', type: 'vectorindex' }]), /types? not dumped: "future" \(vectorindex\)/);
});
