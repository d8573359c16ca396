// Regression (review of client-sent fields): a Begin's hostname and labels were kept as sent, at any
// size, and a Restore could name as many paths as 4 MiB holds. Here a client with its own certificate
// sends a 3 MiB hostname holding a line feed and labels holding a line feed and a NUL (kept cleaned:
// the backup is not lost for them), 100,000 labels (refused, naming the client and the field) and a
// Restore naming 500,000 paths (refused before they are indexed), while another client is answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { BackupClient, type RestoreRequest, type UploadRequest } from '../src/proto/cpsbackup';
import { channelOptions, clientCredentials } from '../src/common/tls/credentials';
import type { NodeConfig } from '../src/common/config/node-config';
import { listBackups } from '../src/client/catalog-calls';
import { formatLabels } from '../src/cli/format';
import { HOSTNAME_LENGTH, MAX_LABELS } from '../src/server/received-begin';
import { MAX_SELECTED_PATHS } from '../src/server/selected-paths';
import { commit, sendUpload } from './support/hostile-client';
import { startInProcessServer } from './support/in-process-server';

const OPTIONS = { timeout: 120_000 };

function clientOf(config: NodeConfig): BackupClient {
  return new BackupClient(`127.0.0.1:${config.port}`, clientCredentials(config), channelOptions(config));
}

function beginWith(hostname: string, labels: Record<string, string>): UploadRequest {
  return { message: { $case: 'begin', value: { hostname, kind: 0, parentBackupId: 0, labels, clientVersion: 'evil\n1.0', isScheduled: true } } };
}

/** The restore's status: the error it ended with, or undefined when it ended well. */
function restoreOutcome(client: BackupClient, request: Partial<RestoreRequest>): Promise<grpc.ServiceError | undefined> {
  return new Promise((resolve) => {
    const call = client.restore({ backupId: 0, clientName: '', paths: [], acceptsBatches: true, pathRegex: '', protocolVersion: 2, skipFifoContent: false, strip: 0, ...request });
    call.on('data', () => undefined);
    call.on('error', (error: grpc.ServiceError) => resolve(error));
    call.on('end', () => resolve(undefined));
  });
}

test('a hostile Begin is cleaned or refused, a Restore naming 500,000 paths is refused, and another client is answered meanwhile', OPTIONS, async (t) => {
  const fixture = await startInProcessServer(['node1', 'mallory']);
  const clients: BackupClient[] = [];
  t.after(async () => { for (const client of clients) client.close(); await fixture.stop(); });
  const malloryConfig = await fixture.nodeConfig('mallory', []);
  const node1Config = await fixture.nodeConfig('node1', []);
  const mallory = clientOf(malloryConfig);
  const node1 = clientOf(node1Config);
  clients.push(mallory, node1);
  const address = `127.0.0.1:${malloryConfig.port}`;

  // Kept, cleaned: a line feed and a NUL describe a backup badly, but are no reason to lose it.
  const hostname = `${'h'.repeat(3 * 1024 * 1024)}\nforged`;
  const kept = await sendUpload(mallory, [beginWith(`web\n${hostname}`, { 'version.app\nBackup: 0000099 forged': 'a\u0000b', 'version.db': '16.4' }), commit]);
  assert.equal(kept.error, undefined, kept.error?.details);
  const [backup] = await listBackups(mallory, address);
  assert.equal(backup.hostname, `web\\x0a${'h'.repeat(HOSTNAME_LENGTH - 4)}…`);
  assert.deepEqual(backup.labels, { 'version.app\\x0aBackup: 0000099 forged': 'a\\x00b', 'version.db': '16.4', 'client.version': 'evil\\x0a1.0' });
  assert.ok(!/[\u0000-\u001f]/.test(formatLabels(backup.labels)), 'the -s line holds no control character');

  // Refused, naming the client and the field; nothing of it is kept.
  const manyLabels = Object.fromEntries(Array.from({ length: 100_000 }, (_, index) => [`label.${index}`, 'x']));
  const refused = await sendUpload(mallory, [beginWith('web', manyLabels), commit]);
  assert.equal(refused.error?.code, grpc.status.INVALID_ARGUMENT, refused.error?.details);
  assert.match(refused.error!.details, new RegExp(`client "mallory" sent a Begin whose labels number 100000, more than ${MAX_LABELS}`));
  assert.equal((await listBackups(mallory, address)).length, 1, 'the refused backup is not listed');

  // A restore naming 500,000 paths (3.5 MB), while node1 lists its backups: node1 is answered, mallory refused.
  const paths = Array.from({ length: 500_000 }, (_, index) => Buffer.from(`/${index.toString(36).padStart(4, '0')}`));
  const startedAt = performance.now();
  const [restoreError, node1Backups] = await Promise.all([restoreOutcome(mallory, { paths }), listBackups(node1, address)]);
  const restoreSeconds = (performance.now() - startedAt) / 1000;
  assert.deepEqual(node1Backups, []);
  assert.equal(restoreError?.code, grpc.status.RESOURCE_EXHAUSTED, restoreError?.details);
  assert.match(restoreError!.details, new RegExp(`client "mallory" asked to restore 500000 paths, more than the ${MAX_SELECTED_PATHS} a restore may name`));
  assert.ok(restoreSeconds < 10, `the refusal took ${restoreSeconds.toFixed(1)} s`);
  assert.ok(fixture.log.some((line) => line.includes('asked to restore 500000 paths')), 'the refusal is logged');

  // Still serving: a restore naming a few paths is answered as before.
  assert.equal(await restoreOutcome(mallory, { paths: [Buffer.from('/etc')] }), undefined);
  for (const line of fixture.log) assert.ok(!line.slice(0, -1).includes('\n'), `a log record of several lines: ${line.slice(0, 200)}`);
});
