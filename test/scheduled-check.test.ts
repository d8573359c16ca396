// The running server's scheduled check (server.conf check_schedule): a bad schedule is refused at load
// naming its line; on a real server checking every second, a flipped pack byte shows in /status as
// lastCheck.isClean false, is notified exactly once, and backups still run between the checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Sandbox, runNode } from './support/sandbox';
import { RECORD_HEADER_SIZE } from '../src/chunkstore/pack/pack-format';
import type { LastCheck } from '../src/server/scheduled-check';
import type { Notification } from '../src/server/notify/notification';
import { writeDeterministicFile } from './support/trees';
import { backupNow, chunksOfFile, flipByte, packFile, waitUntil } from './support/fault-tools';

const SERVER_CLI = resolve(__dirname, '..', 'src', 'cli', 'cpsbackup-server.js');
const MEBIBYTE = 1024 * 1024;
// Small chunks so one file spans several chunks and the damage is one file's problem.
const CHUNK_LINES = ['chunk_min_size = 16384', 'chunk_avg_size = 65536', 'chunk_max_size = 262144'];

test('check_schedule and check_read_data_percent mistakes: one line naming file:line, exit 2', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const good = (await readFile(sandbox.serverConfigFile, 'utf8')).trimEnd().split('\n');
  const mistakes: [string, RegExp][] = [
    ['check_schedule = * * *', /check_schedule.*3 fields/],
    ['check_schedule = * * * * * * * *', /check_schedule.*8 fields/],
    ['check_schedule = 61 * * * *', /check_schedule/],
    ['check_schedule = every night', /check_schedule/],
    ['check_read_data_percent = 101', /check_read_data_percent/],
    ['check_read_data_percent = half', /check_read_data_percent/],
  ];
  for (const [index, [line, message]] of mistakes.entries()) {
    const file = join(sandbox.root, `bad-${index}.conf`);
    await writeFile(file, [...good, line, ''].join('\n'));
    const result = await runNode(SERVER_CLI, ['-c', file, 'check'], 60_000);
    assert.equal(result.code, 2, `${line}: ${result.stdout}${result.stderr}`);
    const stderrLines = result.stderr.split('\n').filter((text) => text !== '');
    assert.equal(stderrLines.length, 1, `${line}: one stderr line, got:\n${result.stderr}`);
    assert.ok(stderrLines[0].includes(`${file}:${good.length + 1}:`), `${line}: names the line: ${stderrLines[0]}`);
    assert.match(stderrLines[0], message);
  }
});

async function lastCheckOf(statusUrl: string): Promise<LastCheck | null> {
  const report = await (await fetch(`${statusUrl}/status`)).json() as { lastCheck?: LastCheck | null };
  assert.ok('lastCheck' in report, '/status has a lastCheck field');
  return report.lastCheck ?? null;
}

async function notifications(file: string): Promise<Notification[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Notification);
}

test('a scheduled check every second finds a flipped pack byte: /status lastCheck, one notification, backups still run and heal it', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const notified = join(sandbox.root, 'notified.jsonl');
  const script = join(sandbox.root, 'notify.sh');
  await writeFile(script, `#!/bin/sh\ncat >> '${notified}'\n`);
  await chmod(script, 0o755);
  await sandbox.rewriteServerConfig([
    'keep = 10', ...CHUNK_LINES, 'check_schedule = * * * * * *', 'check_read_data_percent = 100', `notify_script = ${script}`,
  ]);
  const data = join(sandbox.root, 'data');
  await mkdir(data, { recursive: true });
  await writeDeterministicFile(join(data, 'first.bin'), 'first', 2 * MEBIBYTE);
  await writeFile(join(data, 'note.txt'), 'a small note\n');
  const server = await sandbox.startServer();
  const statusUrl = /status on (http:\S+)/.exec(server.log())![1];
  const configFile = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const first = await backupNow(sandbox, configFile, data);

  // A check that started after the backup committed sees a clean store: the lock kept them apart.
  const committedAt = Date.now();
  await waitUntil(async () => {
    const check = await lastCheckOf(statusUrl);
    return check !== null && Date.parse(check.at) > committedAt;
  }, 'a check after the first backup');
  const clean = (await lastCheckOf(statusUrl))!;
  assert.equal(clean.isClean, true, `clean store: ${JSON.stringify(clean)}\n${server.log()}`);
  assert.ok(clean.chunksRead > 0, 'check_read_data_percent = 100 reads chunks');

  const [damaged] = chunksOfFile(sandbox, first.number, join(data, 'first.bin'));
  await flipByte(packFile(sandbox, damaged.packName), damaged.offset + RECORD_HEADER_SIZE + 7);
  await waitUntil(async () => (await lastCheckOf(statusUrl))?.isClean === false, 'lastCheck reports the damage');
  const found = (await lastCheckOf(statusUrl))!;
  assert.deepEqual([found.damagedChunks, found.affectedFiles, found.error], [1, 1, null], JSON.stringify(found));
  const damagedMetrics = await (await fetch(`${statusUrl}/metrics`)).text();
  assert.match(damagedMetrics, /^cpsbackup_check_last_clean 0$/m);
  assert.match(damagedMetrics, /^cpsbackup_check_last_damaged_chunks 1$/m);

  // Checks keep running every second; the same damage must not be notified again.
  const foundAt = Date.parse(found.at);
  await waitUntil(async () => Date.parse((await lastCheckOf(statusUrl))!.at) >= foundAt + 2000, 'two more checks');
  // Backups queue behind a check and run between them.
  await writeFile(join(data, 'note.txt'), 'a changed note\n');
  const second = await backupNow(sandbox, configFile, data);
  assert.equal(second.number, first.number + 1);
  await waitUntil(async () => (await notifications(notified)).some((n) => n.outcome === 'check'), 'the check notification');
  const afterBackup = Date.now();
  await waitUntil(async () => Date.parse((await lastCheckOf(statusUrl))!.at) > afterBackup + 1000, 'checks after the second backup');

  const checkNotifications = (await notifications(notified)).filter((n) => n.outcome === 'check');
  assert.equal(checkNotifications.length, 1, `one check notification: ${JSON.stringify(checkNotifications)}`);
  const [notice] = checkNotifications;
  assert.match(notice.summary, /store check found damage: 1 damaged chunks.*1 affected files in 1 backups of node1/);
  assert.ok(notice.warnings.some((line) => line.endsWith(join(data, 'first.bin'))), notice.warnings.join('\n'));
  assert.match(notice.reason ?? '', new RegExp(`damaged chunk ${damaged.hash}`));
  assert.match(server.log(), /check: DAMAGE FOUND: 1 damaged chunks/);
  // The second backup held the damaged chunk's bytes again: it stored them anew (self-healing), so the
  // checks after it are clean (e2e-self-healing restores the healed backups byte for byte).
  const healed = (await lastCheckOf(statusUrl))!;
  assert.deepEqual([healed.isClean, healed.damagedChunks], [true, 0], JSON.stringify(healed));
  const metrics = await (await fetch(`${statusUrl}/metrics`)).text();
  assert.match(metrics, /^cpsbackup_check_last_clean 1$/m);
  assert.match(metrics, /^cpsbackup_check_last_damaged_chunks 0$/m);
});
