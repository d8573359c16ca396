// lostDumpSources: a source a backup's labels say it dumped, of which its entries hold no dump, is lost
// (the partial chain and the receiver stop it there); every source a run dumps writes a file, MongoDB too
// (a database without a collection to dump fails the run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BackupKind, BackupSummary } from '../src/proto/cpsbackup';
import { lostDumpSources } from '../src/client/lost-dumps';

const labels = {
  'dumps.source.kv': 'command sha256:0123', 'dumps.source.shop': 'postgresql localhost:default database shop schema public',
  'dumps.source.events': 'mongodb mongodb://db/ database events', 'version.kv': '1.0',
};

function backup(unreadableFiles: number): BackupSummary {
  return BackupSummary.fromPartial({ backupId: 7, kind: BackupKind.BACKUP_KIND_PARTIAL, labels, unreadableFiles });
}

test('a source named by the labels with no dump entry is lost; one with any entry left is not', () => {
  const paths = ['/var/work/dumps/shop/data.sql'];
  assert.deepEqual(lostDumpSources(backup(1), paths), ['events', 'kv']);
  assert.deepEqual(lostDumpSources(backup(1), [...paths, '/var/work/dumps/kv/dump', '/var/work/dumps/events/a.bson']), []);
});

test('a MongoDB source with no dump is lost as any other, also in a backup nothing was taken out of', () => {
  assert.deepEqual(lostDumpSources(backup(0), ['/var/work/dumps/shop/data.sql']), ['events', 'kv']);
});

test('a backup whose labels name no source (made before them, or without storage.conf) loses nothing', () => {
  assert.deepEqual(lostDumpSources(BackupSummary.fromPartial({ backupId: 3, labels: { 'version.kv': '1.0' }, unreadableFiles: 2 }), []), []);
});

test('in an incomplete backup, a database source missing a file its dump always has is lost: schema.sql unless dumped partially', () => {
  const partial = (partialSources: string, unreadableFiles: number): BackupSummary => BackupSummary.fromPartial({
    backupId: 8, kind: BackupKind.BACKUP_KIND_PARTIAL, unreadableFiles,
    labels: { 'dumps.source.shop': labels['dumps.source.shop'], 'dumps.partial_sources': partialSources },
  });
  const complete = BackupSummary.fromPartial({ backupId: 3, labels: { 'dumps.source.shop': labels['dumps.source.shop'] }, unreadableFiles: 1 });
  assert.deepEqual(lostDumpSources(complete, ['/w/dumps/shop/data.sql']), ['shop'], 'a complete dump without its schema');
  assert.deepEqual(lostDumpSources(complete, ['/w/dumps/shop/schema.sql']), ['shop'], 'a complete dump without its data');
  assert.deepEqual(lostDumpSources(complete, ['/w/dumps/shop/schema.sql', '/w/dumps/shop/data.sql']), []);
  assert.deepEqual(lostDumpSources(partial('shop', 1), ['/w/dumps/shop/data.sql']), [], 'a partial dump has no schema');
  assert.deepEqual(lostDumpSources(partial('', 1), ['/w/dumps/shop/data.sql']), ['shop'], 'dumped whole in a partial backup');
  assert.deepEqual(lostDumpSources(partial('', 0), ['/w/dumps/shop/data.sql']), [], 'nothing taken out of it: not judged by file');
});
