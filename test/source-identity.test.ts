// Regression: a partial backup dumped only the changes of a source whose base backup never held it
// (added since, another database, a base made without storage.conf): the chain's restore then loaded
// those changes alone. A source is partial only when the base recorded the same identity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPartialDump } from '../src/client/sources/dump-plans';
import { identityLabels, sourceIdentity } from '../src/client/sources/source-identity';
import { PartialBase } from '../src/client/sources/partial-base';
import { storageConfigFromText, type DumpSource } from '../src/client/sources/storage-config';

function sourceOf(lines: readonly string[]): DumpSource {
  return storageConfigFromText('storage.conf', `${lines.join('\n')}\n`).sources[0];
}

const postgres = (database: string): DumpSource => sourceOf(['source = shop', 'kind = postgresql', `database = ${database}`, 'host = db.example', 'port = 5432']);
const mongo = (uri: string): DumpSource => sourceOf(['source = events', 'kind = mongodb', `uri = ${uri}`, 'database = app', 'since_field = updatedAt']);

test('a source is dumped partially only on top of a base backup that held the same one', () => {
  const base = (sources: readonly DumpSource[]): PartialBase => new PartialBase(Date.now(), identityLabels(sources), 7);
  assert.equal(isPartialDump(postgres('shop'), base([postgres('shop')])), true);
  assert.equal(isPartialDump(postgres('shop'), base([postgres('shop_v2')])), false, 'its database changed');
  assert.equal(isPartialDump(postgres('shop'), base([])), false, 'added since the base (or a base made without storage.conf)');
  assert.equal(isPartialDump(postgres('shop'), new PartialBase(Date.now(), { 'mark.shop.orders.updated_at': '2024-01-01' })), false,
    'a base made before identities were recorded: its marks cannot be trusted for this source');
  const uri = 'mongodb://reader:s3cret@h1:27017,h2:27017/admin?replicaSet=rs0';
  assert.equal(isPartialDump(mongo(uri), base([mongo(uri)])), true);
  assert.equal(isPartialDump(mongo(uri), base([mongo('mongodb://reader:s3cret@other:27017/admin')])), false, 'another server');
  assert.equal(isPartialDump(mongo(uri), new Date()), true, 'a plain time is the caller\'s own promise');
});

test('an identity names kind, place and database, never a password or a command\'s text', () => {
  assert.equal(sourceIdentity(mongo('mongodb://reader:s3cret@h1:27017,h2:27017/admin?replicaSet=rs0&password=x')), 'mongodb mongodb://h1:27017,h2:27017/admin database app');
  assert.equal(sourceIdentity(postgres('shop')), 'postgresql db.example:5432 database shop schema public');
  const command = sourceIdentity(sourceOf(['source = app', 'kind = command', 'dump = PGPASSWORD=s3cret pg_dump app', 'load = cat']));
  assert.match(command, /^command sha256:[0-9a-f]{32}$/);
});
