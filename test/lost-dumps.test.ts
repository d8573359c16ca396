// lostDumpSources: a source a backup's labels say it dumped, of which its entries hold no dump, is lost
// (the partial chain and the receiver stop it there); a MongoDB database without collections writes no
// file, so it counts as lost only when the backup is incomplete (check --repair took files out).
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

test('a MongoDB source with no dump in a backup nothing was taken out of dumped an empty database: not lost', () => {
  assert.deepEqual(lostDumpSources(backup(0), ['/var/work/dumps/shop/data.sql']), ['kv']);
});

test('a backup whose labels name no source (made before them, or without storage.conf) loses nothing', () => {
  assert.deepEqual(lostDumpSources(BackupSummary.fromPartial({ backupId: 3, labels: { 'version.kv': '1.0' }, unreadableFiles: 2 }), []), []);
});
