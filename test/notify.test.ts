// Proves notifications on the real server: success and failure (an aborted backup) per backup,
// an anomaly once for an unusual backup, and "overdue" once per lapse of warn_after, each
// delivered with the documented payload to a notify_script (stdin) and a webhook (POST body).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Sandbox, type CommandResult } from './support/sandbox';
import type { Notification } from '../src/server/notify/notification';

interface Receivers {
  readonly serverLines: string[];
  /** What the script wrote, one parsed line per call. */
  scriptCalls(): Promise<Notification[]>;
  webhookCalls(): Notification[];
  close(): Promise<void>;
}

async function startReceivers(root: string): Promise<Receivers> {
  const received: Notification[] = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (data: Buffer) => { body += data.toString(); });
    request.on('end', () => {
      assert.equal(request.method, 'POST');
      assert.equal(request.headers['content-type'], 'application/json');
      received.push(JSON.parse(body) as Notification);
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const output = join(root, 'notifications.jsonl');
  const script = join(root, 'notify.sh');
  // Each call appends its stdin, and the outcome from the environment, as one line.
  await writeFile(script, `#!/bin/sh\nset -e\npayload=$(cat)\nprintf '%s\\t%s\\n' "$CPSBACKUP_OUTCOME" "$payload" >> '${output}'\n`);
  await chmod(script, 0o755);
  await writeFile(output, '');
  return {
    serverLines: [`notify_script = ${script}`, `notify_webhook = http://127.0.0.1:${port}/hook`],
    scriptCalls: async () => (await readFile(output, 'utf8')).split('\n').filter(Boolean).map((line) => {
      const [outcome, payload] = line.split('\t');
      const parsed = JSON.parse(payload) as Notification;
      assert.equal(outcome, parsed.outcome, 'CPSBACKUP_OUTCOME matches the payload');
      return parsed;
    }),
    webhookCalls: () => [...received],
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function exited(result: CommandResult, code: number, what: string): CommandResult {
  assert.equal(result.code, code, `${what} exited ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

/** Waits until both receivers hold `count` notifications, then checks they got the same ones. */
async function delivered(receivers: Receivers, count: number): Promise<Notification[]> {
  for (let attempt = 0; attempt < 300; attempt++) {
    const fromScript = await receivers.scriptCalls();
    const fromWebhook = receivers.webhookCalls();
    if (fromScript.length >= count && fromWebhook.length >= count) {
      assert.deepEqual(fromScript.slice(0, count), fromWebhook.slice(0, count), 'script and webhook get the same payloads in the same order');
      return fromScript.slice(0, count);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`expected ${count} notifications, got ${(await receivers.scriptCalls()).length} (script) and ${receivers.webhookCalls().length} (webhook)`);
}

const payloadKeys = ['anomaly', 'at', 'backup', 'backupId', 'client', 'lastSuccessAt', 'outcome', 'quota', 'reason', 'server', 'summary', 'version', 'warnAfterSeconds', 'warnings'];

function assertShape(notification: Notification): void {
  assert.deepEqual(Object.keys(notification).sort(), payloadKeys);
  assert.equal(notification.version, 1);
  assert.ok(!Number.isNaN(Date.parse(notification.at)));
  assert.equal(typeof notification.server, 'string');
  assert.ok(Array.isArray(notification.warnings));
}

test('success for each backup, failure once for an aborted one, anomaly once for an unusual one', async (t) => {
  const sandbox = await Sandbox.create();
  const receivers = await startReceivers(sandbox.root);
  t.after(async () => { await sandbox.destroy(); await receivers.close(); });
  await sandbox.rewriteServerConfig(['keep = 10', ...receivers.serverLines]);
  await sandbox.startServer();
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  for (let index = 0; index < 10; index++) await writeFile(join(data, `file-${index}.txt`), `content ${index}\n`.repeat(100));
  const storage = join(sandbox.root, 'storage.conf');
  await writeFile(storage, '');
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`, `storage_conf = ${storage}`]);
  const cli = (...args: string[]) => sandbox.runClient(['-c', config, ...args]);

  for (let round = 1; round <= 3; round++) exited(await cli('-e'), 0, `-e ${round}`);
  const successes = await delivered(receivers, 3);
  assert.deepEqual(successes.map((n) => [n.outcome, n.client, n.backupId]), [['success', 'node1', 1], ['success', 'node1', 2], ['success', 'node1', 3]]);
  const list = JSON.parse(exited(await cli('-l', '--json'), 0, '-l --json').stdout) as { id: number; files: number; logicalBytes: number; newBytes: number }[];
  for (const [index, notification] of successes.entries()) {
    assertShape(notification);
    assert.deepEqual([notification.backup!.id, notification.backup!.files, notification.backup!.bytes, notification.backup!.newBytes],
      [list[index].id, list[index].files, list[index].logicalBytes, list[index].newBytes]);
    assert.equal(notification.reason, null);
    assert.equal(notification.anomaly, null);
    assert.deepEqual(notification.warnings, []);
    assert.match(notification.summary, new RegExp(`^backup ${list[index].id} of node1 succeeded: 10 files, `));
  }

  // A dumper failing halfway makes the client abort: one failure, naming the reason.
  await writeFile(storage, ['source = db', 'kind = command', `dump = sh -c 'seq 1 1000; echo "dump broke" >&2; exit 3'`, 'load = cat > /dev/null', ''].join('\n'));
  const failed = await cli('-e');
  assert.notEqual(failed.code, 0);
  const afterFailure = await delivered(receivers, 4);
  const failure = afterFailure[3];
  assertShape(failure);
  assert.equal(failure.outcome, 'failure');
  assert.equal(failure.client, 'node1');
  assert.equal(failure.backupId, 4);
  // The client's own reason reaches the server (the dumper's exit and its stderr), not just "stream closed".
  assert.match(failure.reason!, /^client aborted the backup: dump source db: .*exited with code 3\ndump broke$/);
  assert.match(failure.summary, /^backup 4 of node1 failed: client aborted the backup/);
  assert.equal(failure.backup, null);

  // Ten times the usual size: the success carries the warning, and one anomaly follows it.
  await writeFile(storage, '');
  await writeFile(join(data, 'huge.bin'), randomBytes(1024 * 1024));
  exited(await cli('-e'), 0, '-e with a huge file');
  const afterAnomaly = await delivered(receivers, 6);
  const [success, anomaly] = afterAnomaly.slice(4);
  assert.deepEqual([success.outcome, success.backupId], ['success', 5]);
  assert.deepEqual(success.warnings, anomaly.anomaly!.reasons, 'the success carries the anomaly as a warning');
  assert.equal(success.warnings.length, 1, 'the size strayed, the file count (11 for 10) did not');
  assertShape(anomaly);
  assert.equal(anomaly.outcome, 'anomaly');
  assert.match(success.summary, /, 1 warning$/);
  assert.equal(anomaly.backupId, 5);
  assert.equal(anomaly.anomaly!.isAnomalous, true);
  assert.equal(anomaly.anomaly!.share, 0.5);
  assert.equal(anomaly.anomaly!.basis, 3);
  assert.equal(anomaly.anomaly!.medianBytes, list[1].logicalBytes);
  assert.deepEqual(anomaly.warnings, anomaly.anomaly!.reasons);
  assert.match(anomaly.anomaly!.reasons[0], /^size \d+ bytes differs from the median \d+ of the last 3 backups by \d+%$/);
  assert.match(anomaly.summary, /^backup 5 of node1 is unusual: size /);

  // Back to the usual size: a success only, no second anomaly, nothing else.
  await rm(join(data, 'huge.bin'));
  exited(await cli('-e'), 0, '-e after the anomaly');
  const all = await delivered(receivers, 7);
  assert.deepEqual(all.map((n) => n.outcome), ['success', 'success', 'success', 'failure', 'success', 'anomaly', 'success']);
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal((await receivers.scriptCalls()).length, 7, 'no late extra notification');
  assert.equal(receivers.webhookCalls().length, 7, 'no late extra webhook call');
});

test('overdue: notified once per lapse of warn_after (client record), again only after a new success', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1'] });
  const receivers = await startReceivers(sandbox.root);
  t.after(async () => { await sandbox.destroy(); await receivers.close(); });
  await sandbox.addClient('late', ['warn_after = 2s']);
  // A global warn_after far away: node1 must never be reported.
  await sandbox.rewriteServerConfig(['keep = 10', 'warn_after = 1d', ...receivers.serverLines]);
  const server = await sandbox.startServer();
  const statusUrl = /status on (http:\S+)/.exec(server.log())![1];

  const first = await delivered(receivers, 1);
  assertShape(first[0]);
  assert.deepEqual([first[0].outcome, first[0].client, first[0].backupId, first[0].warnAfterSeconds, first[0].lastSuccessAt, first[0].backup],
    ['overdue', 'late', null, 2, null, null]);
  assert.match(first[0].summary, /^late has no successful backup and is overdue \(warn_after 2 s\)$/);
  const status = await (await fetch(`${statusUrl}/status`)).json() as { clients: { name: string; state: string; isOverdue: boolean }[] };
  assert.deepEqual(status.clients.map((client) => [client.name, client.state, client.isOverdue]), [['late', 'overdue', true], ['node1', 'never', false]]);
  // The check runs every 500 ms here: wait several rounds and still see one notification.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  assert.equal((await receivers.scriptCalls()).length, 1, 'overdue is notified once');

  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'a.txt'), 'late but there\n');
  const config = await sandbox.writeNodeConfig('late', [`include = ${data}`]);
  exited(await sandbox.runClient(['-c', config, '-e']), 0, '-e of late');
  const afterBackup = await delivered(receivers, 3);
  assert.deepEqual(afterBackup.slice(1).map((n) => [n.outcome, n.backupId]), [['success', 1], ['overdue', 1]]);
  const second = afterBackup[2];
  assert.equal(second.lastSuccessAt, second.backup!.finishedAt);
  assert.equal(second.backup!.id, 1);
  assert.match(second.summary, /^late is overdue: last successful backup 1 finished \d+ s ago \(warn_after 2 s\)$/);
  assert.ok(Date.parse(second.at) - Date.parse(second.lastSuccessAt!) > 2000);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const final = await receivers.scriptCalls();
  assert.equal(final.length, 3, 'still once per lapse');
  assert.ok(final.every((n) => n.client === 'late'), 'node1 (warn_after 1d) is never overdue');
});
