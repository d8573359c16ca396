// Regression (red team redconf, delete-force-hides-dependents): with complete backup 1 and partials 2 and 3 on it,
// `-d 1 --force` deleted all three (the newest included) and printed only `Deleted backup 0000001`; `-l` marked
// backup 1 `(deletable)` though `-d 1` without --force refused it. Now the refusal names the partials, the
// forced deletion names every backup it deleted (output and server log), and `-l` marks deletable exactly what
// `-d` without --force deletes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, BackupClient, BackupKind, type UploadRequest } from '../src/proto/cpsbackup';
import { channelOptions, clientCredentials } from '../src/common/tls/credentials';
import { main } from '../src/cli/cpsbackup';
import { EXIT } from '../src/cli/exit-codes';
import { commit, fileMessages, meta, sendUpload } from './support/hostile-client';
import { startInProcessServer } from './support/in-process-server';

async function backUp(client: BackupClient, kind: BackupKind, parentBackupId: number): Promise<void> {
  const messages: UploadRequest[] = [
    { message: { $case: 'begin', value: { hostname: 'node1', kind, parentBackupId, labels: {}, clientVersion: 'test', isScheduled: false } } },
    { message: { $case: 'entry', value: { meta: meta('/srv', EntryType.ENTRY_TYPE_DIRECTORY), sameAsParent: false } } },
    ...fileMessages('/srv/f', Buffer.from(`content of a ${kind === BackupKind.BACKUP_KIND_PARTIAL ? 'partial' : 'complete'} backup`)),
    commit];
  const outcome = await sendUpload(client, messages);
  assert.equal(outcome.error, undefined, outcome.error?.details);
}

test('-l marks deletable what -d deletes without --force; --force names every backup it deletes', async (t) => {
  const harness = await startInProcessServer(['node1']);
  t.after(() => harness.stop());
  const config = await harness.nodeConfig('node1', []);
  const configFile = `${harness.sandbox.root}/node1.conf`;
  const client = new BackupClient(`${config.server}:${config.port}`, clientCredentials(config), channelOptions(config));
  t.after(() => client.close());
  // 1 complete, 2 and 3 partials on it, 4 and 5 complete.
  await backUp(client, BackupKind.BACKUP_KIND_COMPLETE, 0);
  await backUp(client, BackupKind.BACKUP_KIND_PARTIAL, 1);
  await backUp(client, BackupKind.BACKUP_KIND_PARTIAL, 2);
  await backUp(client, BackupKind.BACKUP_KIND_COMPLETE, 0);
  await backUp(client, BackupKind.BACKUP_KIND_COMPLETE, 0);

  const run = async (...args: string[]): Promise<{ code: number; out: string; err: string }> => {
    let out = '';
    let err = '';
    const code = await main(['node', 'cpsbackup', '-c', configFile, ...args], { out: (text) => { out += text; }, err: (text) => { err += text; }, isInteractive: false });
    return { code, out, err };
  };
  const deletableOnes = async (): Promise<number[]> => {
    const listed = await run('-l', '--json');
    assert.equal(listed.code, EXIT.ok, listed.err);
    return (JSON.parse(listed.out) as { id: number; deletable: boolean }[]).filter((backup) => backup.deletable).map((backup) => backup.id);
  };
  // 1 and 2 have partials on them, 5 is the newest: only 3 (nothing stands on it) and 4 go without --force.
  assert.deepEqual(await deletableOnes(), [3, 4]);
  const text = await run('-l');
  assert.match(text.out, /^Backup: 0000001 \S+ \S+ complete$/m);
  assert.match(text.out, /^Backup: 0000004 \S+ \S+ complete \(deletable\)$/m);

  for (const [backupId, standing] of [['1', 'is the base of partial backups 2, 3; deleting it needs --force, which deletes them too'],
    ['2', 'is a link the later partial backup 3 stands on; deleting it needs --force, which deletes it too']]) {
    const refused = await run('-d', backupId);
    assert.equal(refused.code, EXIT.auth, refused.err);
    assert.match(refused.err, new RegExp(`backup ${backupId} of client "node1" ${standing}`));
  }
  const newest = await run('-d', '5');
  assert.equal(newest.code, EXIT.auth, newest.err);

  const forced = await run('-d', '1', '--force');
  assert.equal(forced.code, EXIT.ok, forced.err);
  assert.match(forced.out, /^Deleted backup 0000001 and the partial backups standing on it, 0000002, 0000003; /m);
  assert.ok(harness.log.some((line) => /backup 1 of node1 deleted by request, with the partial backups on it: 2, 3/.test(line)), harness.log.join('\n'));
  assert.deepEqual(await deletableOnes(), [4]);

  const plain = await run('-d', '4');
  assert.equal(plain.code, EXIT.ok, plain.err);
  assert.match(plain.out, /^Deleted backup 0000004; /m);
});
