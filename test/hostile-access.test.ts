// A client reaching for another client's backups (issue 7, scenario 9), with requests crafted from the
// generated client code: list, show, diff, find, restore and delete of node2's backup by node1 are all refused,
// and node2's backup stays listed and restorable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import type { BackupClient, DiffBatch, FindBatch, ListBatch, RestoreResponse, ShowBatch } from '../src/proto/cpsbackup';
import { assertRestoresExactly, backupNow, listedNumbers } from './support/fault-tools';
import { hostileClient } from './support/hostile-client';

function unary<T>(call: (callback: (error: grpc.ServiceError | null, response: T) => void) => void): Promise<grpc.ServiceError | undefined> {
  return new Promise((resolve) => call((error) => resolve(error ?? undefined)));
}

async function streamError(stream: AsyncIterable<unknown>): Promise<grpc.ServiceError | undefined> {
  try {
    for await (const message of stream) void message;
    return undefined;
  } catch (error) {
    return error as grpc.ServiceError;
  }
}

function assertRefused(error: grpc.ServiceError | undefined, status: grpc.status, what: string): void {
  assert.ok(error, `${what} was not refused`);
  assert.equal(error.code, status, `${what}: ${error.code} ${error.details}`);
}

test('client node1 cannot list, show, diff, find, restore or delete client node2\'s backup', async () => {
  const sandbox = await Sandbox.create({ clients: ['node1', 'node2'] });
  let client: BackupClient | undefined;
  try {
    const data = join(sandbox.root, 'data2');
    await mkdir(data);
    await writeFile(join(data, 'secret.txt'), 'node2 only\n');
    await sandbox.startServer();
    const node2Config = await sandbox.writeNodeConfig('node2', [`include = ${data}`]);
    const node1Config = await sandbox.writeNodeConfig('node1', [`include = ${join(sandbox.root, 'nothing')}`]);
    const backup = await backupNow(sandbox, node2Config, data);
    client = hostileClient(node1Config);
    const own = client;
    const foreign = { backupId: backup.number, clientName: 'node2' };

    assertRefused(await streamError(own.list({ clientName: 'node2', readsBatches: true }) as AsyncIterable<ListBatch>), grpc.status.PERMISSION_DENIED, 'list');
    assertRefused(await streamError(own.show(foreign) as AsyncIterable<ShowBatch>), grpc.status.PERMISSION_DENIED, 'show');
    assertRefused(await streamError(own.restore({ ...foreign, paths: [], acceptsBatches: true, pathRegex: '', protocolVersion: 2, skipFifoContent: false, strip: 0 }) as AsyncIterable<RestoreResponse>), grpc.status.PERMISSION_DENIED, 'restore');
    assertRefused(await unary((callback) => own.delete({ ...foreign, force: true }, callback)), grpc.status.PERMISSION_DENIED, 'delete');
    // Diff and Find name paths: the same rule as show.
    assertRefused(await streamError(own.diff({ fromBackupId: backup.number, toBackupId: backup.number, clientName: 'node2' }) as AsyncIterable<DiffBatch>),
      grpc.status.PERMISSION_DENIED, 'diff');
    assertRefused(await streamError(own.find({ pattern: '**', clientName: 'node2' }) as AsyncIterable<FindBatch>), grpc.status.PERMISSION_DENIED, 'find');
    // Its own (empty) history: nothing of node2's comes back.
    const found: FindBatch[] = [];
    for await (const batch of own.find({ pattern: '**', clientName: '' }) as AsyncIterable<FindBatch>) found.push(batch);
    assert.deepEqual(found.flatMap((batch) => batch.matches), []);
    assertRefused(await streamError(own.diff({ fromBackupId: backup.number, toBackupId: backup.number, clientName: '' }) as AsyncIterable<DiffBatch>),
      grpc.status.NOT_FOUND, 'diff by number');
    // By number alone the id means node1's own backup, of which there is none.
    assertRefused(await unary((callback) => own.delete({ backupId: backup.number, clientName: '', force: true }, callback)), grpc.status.NOT_FOUND, 'delete by number');
    assertRefused(await streamError(own.restore({ backupId: backup.number, clientName: '', paths: [], acceptsBatches: true, pathRegex: '', protocolVersion: 2, skipFifoContent: false, strip: 0 }) as AsyncIterable<RestoreResponse>), grpc.status.NOT_FOUND, 'restore by number');
    // Names that would be paths elsewhere (rest-server #131) are just unknown, never a way in.
    for (const clientName of ['../node2', 'node2/', 'node2\0', '.']) {
      assertRefused(await streamError(own.restore({ backupId: backup.number, clientName, paths: [], acceptsBatches: true, pathRegex: '', protocolVersion: 2, skipFifoContent: false, strip: 0 }) as AsyncIterable<RestoreResponse>),
        grpc.status.PERMISSION_DENIED, `restore as ${JSON.stringify(clientName)}`);
    }

    assert.deepEqual(await listedNumbers(sandbox, node2Config), [backup.number]);
    await assertRestoresExactly(sandbox, node2Config, [backup]);
  } finally {
    client?.close();
    await sandbox.destroy();
  }
});
