// Regression (security review): a client with client_can_list = 0 read what `-s N` shows through Parent (any
// of its backups, full entries), through Upload's parent number (a failed "unchanged" claim told which paths an
// old backup held) and through Protect (its reply is a backup's summary). Crafted from the generated client code;
// the real client's own backups, which read the newest backup's unchanged-file fields, still go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import { hostileClient, sendUpload, begin } from './support/hostile-client';
import { loadNodeConfig } from '../src/common/config/node-config';
import { runBackup } from '../src/client/uploader';
import { BackupKind, type BackupClient, type BackupSummary, type ParentBatch, type ParentRequest, type UploadRequest } from '../src/proto/cpsbackup';

async function parentCall(client: BackupClient, request: Partial<ParentRequest>): Promise<{ batches: ParentBatch[]; error: grpc.ServiceError | undefined }> {
  const batches: ParentBatch[] = [];
  try {
    for await (const batch of client.parent({ backupId: 0, unchangedCheckOnly: true, marksDamaged: true, ...request }) as AsyncIterable<ParentBatch>) batches.push(batch);
    return { batches, error: undefined };
  } catch (error) {
    return { batches, error: error as grpc.ServiceError };
  }
}

function protectCall(client: BackupClient, backupId: number): Promise<{ summary: BackupSummary | undefined; error: grpc.ServiceError | undefined }> {
  return new Promise((resolve) => client.protect({ backupId, clientName: '', isProtected: true },
    (error, summary) => resolve({ summary: error ? undefined : summary, error: error ?? undefined })));
}

function beginWithParent(parentBackupId: number): UploadRequest {
  const value = begin.message!.$case === 'begin' ? begin.message!.value : undefined;
  return { message: { $case: 'begin', value: { ...value!, parentBackupId, isScheduled: true } } };
}

function assertRefusedForList(error: grpc.ServiceError | undefined, what: string): void {
  assert.ok(error, `${what} was not refused`);
  assert.equal(error.code, grpc.status.PERMISSION_DENIED, `${what}: ${error.code} ${error.details}`);
  assert.match(error.details, /^client "blind" may not .*: client_can_list = 0 in its record on the server$/, what);
}

const pathsOf = (batches: readonly ParentBatch[]): string[] => batches.flatMap((batch) => batch.entries.map((entry) => entry.path.toString()));

test('without client_can_list, Parent, Upload\'s parent and Protect show nothing -s would; the real backup still reads its parent', async (t) => {
  const sandbox = await Sandbox.create({ clients: [] });
  t.after(() => sandbox.destroy());
  await sandbox.addClient('blind', ['client_can_list = 0']);
  await sandbox.addClient('lister');
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'kept.txt'), 'kept\n');
  await writeFile(join(data, 'gone.txt'), 'only in backup 1\n');
  await sandbox.startServer();
  const blindConfig = await sandbox.writeNodeConfig('blind', [`include = ${data}`]);
  const listerConfig = await sandbox.writeNodeConfig('lister', [`include = ${data}`]);
  const complete = { kind: BackupKind.BACKUP_KIND_COMPLETE };
  assert.equal((await runBackup(loadNodeConfig(blindConfig), complete)).summary.backupId, 1);
  await rm(join(data, 'gone.txt'));
  // The real client reads its parent (the newest, unchanged-file fields only) without the right.
  assert.equal((await runBackup(loadNodeConfig(blindConfig), complete)).summary.backupId, 2);
  assert.equal((await runBackup(loadNodeConfig(listerConfig), complete)).summary.backupId, 1);

  const blind = hostileClient(blindConfig);
  const lister = hostileClient(listerConfig);
  t.after(() => { blind.close(); lister.close(); });

  await t.test('Parent: the newest backup\'s unchanged-file fields only', async () => {
    for (const backupId of [0, 2]) {
      const newest = await parentCall(blind, { backupId });
      assert.equal(newest.error, undefined, `the newest backup as ${backupId}: ${newest.error?.details}`);
      assert.deepEqual(pathsOf(newest.batches), [join(data, 'kept.txt')]);
    }
    assertRefusedForList((await parentCall(blind, { backupId: 0, unchangedCheckOnly: false })).error, 'full entries of the newest backup');
    assertRefusedForList((await parentCall(blind, { backupId: 2, unchangedCheckOnly: false })).error, 'full entries of backup 2');
    const older = await parentCall(blind, { backupId: 1 });
    assertRefusedForList(older.error, 'an older backup');
    assert.deepEqual(pathsOf(older.batches), [], 'not one path of backup 1');
    // Refused before the lookup: a number that does not exist is refused the same way.
    assertRefusedForList((await parentCall(blind, { backupId: 99 })).error, 'a backup that does not exist');
  });

  await t.test('Upload: only the newest backup may be the parent', async () => {
    for (const parentBackupId of [1, 99]) {
      const outcome = await sendUpload(blind, [beginWithParent(parentBackupId)]);
      assertRefusedForList(outcome.error, `Begin with parent ${parentBackupId}`);
      assert.deepEqual(outcome.responses, [], 'no backup was started');
    }
  });

  await t.test('Protect: refused, so its reply lists nothing', async () => {
    const outcome = await protectCall(blind, 1);
    assertRefusedForList(outcome.error, 'protect');
    assert.equal(outcome.summary, undefined);
  });

  await t.test('with client_can_list, the same calls answer', async () => {
    const full = await parentCall(lister, { backupId: 1, unchangedCheckOnly: false });
    assert.equal(full.error, undefined, full.error?.details);
    assert.deepEqual(pathsOf(full.batches).sort(), [join(data, 'kept.txt')]);
    const protectedOne = await protectCall(lister, 1);
    assert.equal(protectedOne.error, undefined, protectedOne.error?.details);
    assert.equal(protectedOne.summary?.isProtected, true);
  });
});
