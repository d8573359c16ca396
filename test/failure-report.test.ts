// Regression (operations review, finding 1): a backup that failed on the client before its Upload
// reached the server (backup_script_pre exiting non-zero, a storage.conf edited into an error, a
// server answering "server busy") was known only to the client's log: /status said ok with an
// ageing last success, and no failure notification was sent. Now the client reports such a failure
// (ReportFailure) and the server records a refusal at claim(), so the state is failed and one
// failure notification goes, naming the reason. In process: the real server, the daemon's runJob.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import { join } from 'node:path';
import { startInProcessServer } from './support/in-process-server';
import { clientStatusOf, recordingNotifyScript } from './support/failure-notices';
import { runJob } from '../src/client/daemon/daemon-jobs';
import { createLogger } from '../src/common/logger';
import { BusyError, ConfigError, ScriptFailedError } from '../src/common/errors';
import { loadStorageConfig } from '../src/client/sources/storage-config';
import { reportFailure } from '../src/client/failure-report';
import { loadNodeConfig } from '../src/common/config/node-config';
import { FastBackupService } from '../src/common/wire/fast-service';
import { BackupKind } from '../src/proto/cpsbackup';
import { Sandbox } from './support/sandbox';

async function fixtureWithNotices(t: { after(fn: () => Promise<void>): void }, serverLines: readonly string[] = []) {
  const recorder = await recordingNotifyScript();
  t.after(() => recorder.remove());
  const fixture = await startInProcessServer(['node1'], [`notify_script = ${recorder.script}`, ...serverLines]);
  t.after(() => fixture.stop());
  const data = join(fixture.sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'a.txt'), 'some data\n');
  return { recorder, fixture, data, statusUrl: fixture.server.status.url };
}

test('a daemon job whose pre script exits 2: /status says failed, one failure notification names the script', async (t) => {
  const { recorder, fixture, data, statusUrl } = await fixtureWithNotices(t);
  const pre = join(fixture.sandbox.root, 'pre.sh');
  await writeFile(pre, '#!/bin/sh\necho "database freeze refused" >&2\nexit 2\n');
  await chmod(pre, 0o755);
  const config = await fixture.nodeConfig('node1', [`include = ${data}`, `backup_script_pre = ${pre}`]);
  const lines: string[] = [];
  await assert.rejects(runJob('complete', { config, storage: () => undefined, logger: createLogger('daemon', (line) => { lines.push(line); }) },
    new AbortController().signal), ScriptFailedError);
  const status = await clientStatusOf(statusUrl, 'node1');
  assert.notEqual(status.state, 'ok');
  assert.equal(status.state, 'failed', JSON.stringify(status));
  const notices = await recorder.waitFor(1);
  assert.equal(notices.length, 1, notices.join('\n'));
  assert.match(notices[0], /^failure\tbackup of node1 failed: complete scheduled backup failed on the client before it reached the server: backup_script_pre .* exited with code 2/);
  assert.ok(!lines.some((line) => /could not be told/.test(line)), lines.join(''));
});

test('a storage.conf edited into an error fails the daemon job, and the server hears of it', async (t) => {
  const { recorder, fixture, data, statusUrl } = await fixtureWithNotices(t);
  const storageFile = join(fixture.sandbox.root, 'storage.conf');
  await writeFile(storageFile, 'source = broken\nkind = nonsense\n');
  const config = await fixture.nodeConfig('node1', [`include = ${data}`]);
  const logger = createLogger('daemon', () => undefined);
  await assert.rejects(runJob('complete', { config, storage: () => loadStorageConfig(storageFile), logger }, new AbortController().signal), ConfigError);
  assert.equal((await clientStatusOf(statusUrl, 'node1')).state, 'failed');
  const notices = await recorder.waitFor(1);
  assert.equal(notices.length, 1, notices.join('\n'));
  assert.match(notices[0], /^failure\t.*complete scheduled backup failed on the client.*storage\.conf:2/);
});

test('a backup refused "server busy" (max_children) is a failed attempt on the status port and notified once', async (t) => {
  const { recorder, fixture, data, statusUrl } = await fixtureWithNotices(t, ['max_children = 1']);
  // Another client's backup holds the only slot (what a real upload's claim does).
  fixture.server.context.activity.claim('node2');
  t.after(() => fixture.server.context.activity.release('node2'));
  const config = await fixture.nodeConfig('node1', [`include = ${data}`]);
  const logger = createLogger('daemon', () => undefined);
  await assert.rejects(runJob('complete', { config, storage: () => undefined, logger }, new AbortController().signal), BusyError);
  assert.equal((await clientStatusOf(statusUrl, 'node1')).state, 'failed');
  const notices = await recorder.waitFor(1);
  // Give a second, wrong notification (a client report on top of the server's own record) time to arrive.
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal((await recorder.notices()).length, 1, (await recorder.notices()).join('\n'));
  assert.match(notices[0], /^failure\tbackup of node1 failed: server busy/);
});

test('cpsbackup -e whose pre script fails: the server records it, and the exit and message are the script failure\'s', async (t) => {
  const { recorder, fixture, data, statusUrl } = await fixtureWithNotices(t);
  const pre = join(fixture.sandbox.root, 'pre.sh');
  await writeFile(pre, '#!/bin/sh\necho "snapshot refused" >&2\nexit 2\n');
  await chmod(pre, 0o755);
  const config = await fixture.nodeConfig('node1', [`include = ${data}`, `backup_script_pre = ${pre}`]);
  const result = await fixture.sandbox.runClient(['-c', config.file, '-e']);
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /backup_script_pre .* exited with code 2/);
  assert.doesNotMatch(result.stderr, /warning: the backup server/);
  assert.equal((await clientStatusOf(statusUrl, 'node1')).state, 'failed');
  const notices = await recorder.waitFor(1);
  assert.equal(notices.length, 1, notices.join('\n'));
  assert.match(notices[0], /^failure\t.*complete forced backup failed on the client before it reached the server: backup_script_pre/);
});

test('a server without ReportFailure (older): the report says so, and never throws', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1'] });
  t.after(() => sandbox.destroy());
  const ssl = sandbox.sslDirectory;
  // The service as an older server offered it: every call of today but ReportFailure.
  const { reportFailure: _left, ...olderService } = FastBackupService;
  const server = new grpc.Server();
  server.addService(olderService, {});
  const credentials = grpc.ServerCredentials.createSsl(await readFile(join(ssl, 'ca.pem')),
    [{ cert_chain: await readFile(join(ssl, 'server.pem')), private_key: await readFile(join(ssl, 'server.key')) }], true);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', credentials, (error, bound) => (error ? reject(error) : resolve(bound))));
  t.after(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
  const file = join(sandbox.root, 'node1.conf');
  await writeFile(file, [
    'server = 127.0.0.1', `port = ${port}`, 'server_name = localhost',
    `ssl_cert = ${join(ssl, 'clients', 'node1.pem')}`, `ssl_key = ${join(ssl, 'clients', 'node1.key')}`, `ssl_ca = ${join(ssl, 'ca.pem')}`,
    `work_directory = ${join(sandbox.root, 'work')}`, `state_directory = ${join(sandbox.root, 'state')}`, '',
  ].join('\n'));
  const note = await reportFailure(loadNodeConfig(file), { kind: BackupKind.BACKUP_KIND_COMPLETE, isScheduled: true }, 'pre script failed');
  assert.match(note ?? '', /backup server is older and does not record failures that happen on the client/);
});
