// Regression (security review): a client's own text crashed the server or forged its output. An Abort
// reason holding a NUL reached notify_script's environment raw; spawn threw inside a promise that
// nothing caught, and Node ended the server. A reason holding a line feed wrote a whole forged record
// into the server log, and a Commit warning holding one became two warnings. Here a client with no
// rights at all sends each, and the server stays up, logs one record per line, and escapes and caps
// what its notify_script receives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import { hostileClient, sendUpload } from './support/hostile-client';
import type { UploadRequest } from '../src/proto/cpsbackup';
import type { Notification } from '../src/server/notify/notification';
import { SUMMARY_LENGTH } from '../src/server/notify/notification';
import { ABORT_REASON_LENGTH } from '../src/server/received-text';

const OPTIONS = { timeout: 120_000 };

/** A scheduled Begin: the daemon's timed run, which needs no right (client_can_force_backup = 0 here). */
const scheduledBegin: UploadRequest = {
  message: { $case: 'begin', value: { hostname: 'mallory', kind: 0, parentBackupId: 0, labels: {}, clientVersion: 'test', isScheduled: true } },
};
const abort = (reason: string): UploadRequest => ({ message: { $case: 'abort', value: { reason } } });

/** What a forged record would look like: a revocation the operator would act on. */
const FORGED_RECORD = '2026-01-01T00:00:00.000Z cpsbackup-server warn closing the open connection from 10.0.0.9:4000: client "node1" (serial 01): certificate revoked';

interface ScriptCall {
  readonly outcome: string;
  readonly summary: string;
  readonly payload: Notification;
}

/** The script writes CPSBACKUP_OUTCOME, CPSBACKUP_SUMMARY and its stdin as one line per call. */
async function writeNotifyScript(root: string): Promise<{ readonly script: string; calls(): Promise<ScriptCall[]> }> {
  const output = join(root, 'notify-calls.txt');
  const script = join(root, 'notify.sh');
  await writeFile(script, `#!/bin/sh\nset -e\npayload=$(cat)\nprintf '%s\\t%s\\t%s\\n' "$CPSBACKUP_OUTCOME" "$CPSBACKUP_SUMMARY" "$payload" >> '${output}'\n`);
  await chmod(script, 0o755);
  await writeFile(output, '');
  return {
    script,
    calls: async () => (await readFile(output, 'utf8')).split('\n').filter(Boolean).map((line) => {
      const [outcome, summary, payload, ...rest] = line.split('\t');
      assert.deepEqual(rest, [], `one call per line, three fields: ${line.slice(0, 300)}`);
      return { outcome, summary, payload: JSON.parse(payload) as Notification };
    }),
  };
}

async function waitForCalls(calls: () => Promise<ScriptCall[]>, count: number): Promise<ScriptCall[]> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const made = await calls();
    if (made.length >= count) return made;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`expected ${count} notify_script calls, got ${(await calls()).length}`);
}

test('abort reasons with a NUL, a forged log record and 10 KB of text: the server stays up, logs one line each, notifies them escaped and capped', OPTIONS, async (t) => {
  const sandbox = await Sandbox.create();
  let client: grpc.Client | undefined;
  t.after(async () => { client?.close(); await sandbox.destroy(); });
  const notify = await writeNotifyScript(sandbox.root);
  // One hostile client per reason: a client's failures notify at most once per 10 minutes (a22a5c6).
  const hostiles = ['mallory0', 'mallory1', 'mallory2'];
  for (const name of hostiles) {
    await sandbox.addClient(name, ['client_can_delete = 0', 'client_can_list = 0', 'client_can_restore = 0', 'client_can_force_backup = 0']);
  }
  await sandbox.rewriteServerConfig(['keep = 10', `notify_script = ${notify.script}`]);
  const server = await sandbox.startServer();

  const longReason = 'z'.repeat(10_000);
  const reasons = ['x\u0000y', `disk gone\n${FORGED_RECORD}`, longReason];
  for (const [index, reason] of reasons.entries()) {
    client?.close();
    const hostile = hostileClient(await sandbox.writeNodeConfig(hostiles[index], []));
    client = hostile;
    const outcome = await sendUpload(hostile, [scheduledBegin, abort(reason)]);
    assert.equal(outcome.error?.code, grpc.status.INVALID_ARGUMENT, `abort ${JSON.stringify(reason.slice(0, 40))}: ${outcome.error?.details}`);
    // Each notification is delivered before the next abort: a crash shows at the reason that caused it.
    await waitForCalls(notify.calls, reasons.indexOf(reason) + 1);
    assert.equal(server.process.exitCode, null, `the server exited after the abort ${JSON.stringify(reason.slice(0, 40))}:\n${server.log().slice(-2000)}`);
  }

  // The server still takes a real backup from an honest client, and notifies its success.
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'file.txt'), 'kept\n');
  const storage = join(sandbox.root, 'storage.conf');
  await writeFile(storage, '');
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`, `storage_conf = ${storage}`]);
  const backup = await sandbox.runClient(['-c', config, '-e']);
  assert.equal(backup.code, 0, `backup after the aborts exited ${backup.code ?? backup.signal}: ${backup.stderr}`);

  const calls = await waitForCalls(notify.calls, 4);
  assert.deepEqual(calls.map((call) => [call.outcome, call.payload.client]),
    [['failure', 'mallory0'], ['failure', 'mallory1'], ['failure', 'mallory2'], ['success', 'node1']]);
  for (const call of calls) {
    assert.equal(call.summary, call.payload.summary, 'CPSBACKUP_SUMMARY is the payload\'s summary');
    assert.ok(call.summary.length <= SUMMARY_LENGTH + 1, `summary of ${call.summary.length} characters`);
  }
  const [withNul, withRecord, long] = calls;
  assert.match(withNul.summary, /failed: client aborted the backup: x\\x00y$/);
  assert.match(withRecord.summary, /failed: client aborted the backup: disk gone$/, 'the summary is the first line');
  // The reason keeps its lines (a dump's stderr follows its exit), so the record stays inside the reason.
  assert.equal(withRecord.payload.reason, `client aborted the backup: disk gone\n${FORGED_RECORD}`);
  assert.match(long.summary, /failed: client aborted the backup: z+…$/);
  assert.ok(long.payload.reason!.length <= 'client aborted the backup: '.length + ABORT_REASON_LENGTH + 1,
    `a reason of ${long.payload.reason!.length} characters kept`);

  // One record per line: the forged record is inside the real one that quotes it, never a line of its own.
  const lines = server.log().split('\n').filter(Boolean);
  const record = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z cpsbackup-server (info|warn|error) |^cpsbackup-server (status on|listening on) /;
  for (const line of lines) {
    assert.match(line, record, `a line that is no record of the server's: ${line.slice(0, 300)}`);
    if (line.includes('certificate revoked')) assert.match(line, /client aborted the backup: disk gone\\x0a2026-01-01T/, line);
    assert.ok(!line.includes('\u0000'), 'no NUL in the log');
    assert.ok(line.length < ABORT_REASON_LENGTH * 2, `a log line of ${line.length} characters`);
  }
  assert.ok(lines.some((line) => line.includes('certificate revoked')), 'the abort was logged');
});

test('a Commit warning holding a line feed stays one warning, escaped', OPTIONS, async (t) => {
  const sandbox = await Sandbox.create();
  let client: grpc.Client | undefined;
  t.after(async () => { client?.close(); await sandbox.destroy(); });
  const notify = await writeNotifyScript(sandbox.root);
  await sandbox.rewriteServerConfig(['keep = 10', `notify_script = ${notify.script}`]);
  const server = await sandbox.startServer();
  const hostile = hostileClient(await sandbox.writeNodeConfig('node1', []));
  client = hostile;

  const warnings = ['/srv/a: unreadable\n/srv/forged: a second warning', 'bell\u0007 and NUL\u0000'];
  const outcome = await sendUpload(hostile, [scheduledBegin, { message: { $case: 'commit', value: { warnings, unreadableFiles: 1 } } }]);
  assert.equal(outcome.error, undefined, outcome.error?.details);
  // Committed with one unreadable file: kept incomplete, which is what the notification says (459fa54).
  const [kept] = await waitForCalls(notify.calls, 1);
  assert.equal(kept.outcome, 'incomplete');
  assert.deepEqual(kept.payload.warnings, ['/srv/a: unreadable\\x0a/srv/forged: a second warning', 'bell\\x07 and NUL\\x00']);
  assert.match(kept.summary, /, 2 warnings$/);
  assert.equal(server.process.exitCode, null);
});
