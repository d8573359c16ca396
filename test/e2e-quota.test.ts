// Proves quotas and min_free through the real server and CLI: soft_quota notifies once per crossing,
// hard_quota stops the backup that would pass it while it stores, and refuses one at its start when usage
// is at or above it, naming client, usage and quota (nothing written),
// and a store disk below min_free refuses backups before anything is written, with a notification.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { statfsSync } from 'node:fs';
import { Sandbox, type CommandResult } from './support/sandbox';
import type { Notification } from '../src/server/notify/notification';

function exited(result: CommandResult, code: number, what: string): CommandResult {
  assert.equal(result.code, code, `${what} exited ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

/** A notify_script appending each payload as one line; returns the server.conf line and a reader. */
async function notifyScript(root: string): Promise<{ line: string; calls(count: number): Promise<Notification[]> }> {
  const output = join(root, 'notifications.jsonl');
  const script = join(root, 'notify.sh');
  await writeFile(script, `#!/bin/sh\ncat >> '${output}'\n`);
  await chmod(script, 0o755);
  await writeFile(output, '');
  const read = async () => (await readFile(output, 'utf8')).split('\n').filter(Boolean).map((line) => JSON.parse(line) as Notification);
  return {
    line: `notify_script = ${script}`,
    async calls(count) {
      for (let attempt = 0; attempt < 300 && (await read()).length < count; attempt++) await new Promise((resolve) => setTimeout(resolve, 100));
      // A little longer: a notification that should not come has its chance to show up.
      await new Promise((resolve) => setTimeout(resolve, 300));
      return read();
    },
  };
}

async function packFiles(storeDirectory: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (folder: string): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      if (entry.isDirectory()) await walk(join(folder, entry.name));
      else if (entry.name.endsWith('.pack') || /staging/.test(folder)) found.push(join(folder, entry.name));
    }
  };
  await walk(storeDirectory);
  return found.sort();
}

test('soft_quota notifies once per crossing; hard_quota stops the backup that would pass it, and refuses one at its start', async (t) => {
  const sandbox = await Sandbox.create({ clients: [] });
  t.after(() => sandbox.destroy());
  const notify = await notifyScript(sandbox.root);
  // soft_quota from server.conf (every client's), hard_quota from the client's record.
  await sandbox.addClient('node1', ['hard_quota = 300K']);
  // anomaly_share 100 (10000 %): these growing backups are meant, not anomalies to report.
  await sandbox.rewriteServerConfig(['keep = 10', 'anomaly_share = 100', 'soft_quota = 100K', 'hard_quota = 1G', notify.line]);
  const server = await sandbox.startServer();
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const cli = (...args: string[]) => sandbox.runClient(['-c', config, ...args]);

  // Random bytes do not compress: stored size = file size, so usage is known to a few hundred bytes.
  await writeFile(join(data, 'a.bin'), randomBytes(60 * 1024));
  exited(await cli('-e'), 0, 'backup 1 (60 KiB, under soft_quota)');
  assert.deepEqual((await notify.calls(1)).map((n) => n.outcome), ['success']);

  await writeFile(join(data, 'b.bin'), randomBytes(80 * 1024));
  exited(await cli('-e'), 0, 'backup 2 (140 KiB, crosses soft_quota)');
  let calls = await notify.calls(3);
  assert.deepEqual(calls.map((n) => n.outcome), ['success', 'success', 'quota']);
  const quota = calls[2];
  assert.equal(quota.client, 'node1');
  assert.equal(quota.backupId, 2);
  assert.equal(quota.quota!.softQuotaBytes, 100 * 1024);
  assert.equal(quota.quota!.hardQuotaBytes, 300 * 1024);
  assert.ok(quota.quota!.usageBytes >= 140 * 1024 && quota.quota!.usageBytes < 141 * 1024, `usage ${quota.quota!.usageBytes}`);
  assert.equal(quota.quota!.ownBytes, quota.quota!.usageBytes, 'no other client shares these chunks');
  assert.match(quota.summary, /^node1 uses 140\.\d KiB of the store, above its soft_quota of 100\.0 KiB; backups are refused from its hard_quota of 300\.0 KiB$/);

  // Regression (red team): the quota was checked at a backup's start only, and one backup under it stored any amount.
  const packsBefore = await packFiles(sandbox.storeDirectory);
  assert.ok(packsBefore.length > 0);
  await writeFile(join(data, 'c.bin'), randomBytes(200 * 1024));
  const stopped = exited(await cli('-e'), 1, 'backup 3 (starts at 140 KiB under hard_quota, would end at 340 KiB above it)');
  assert.match(stopped.stderr, /backup of client "node1" stopped: it reached its hard_quota of 300\.0 KiB \(307200 bytes\) while storing; with it the client would use 3\d\d\.\d KiB \(\d+ bytes\) of the store, 140\.\d KiB \(\d+ bytes\) before this backup/);
  assert.doesNotMatch(stopped.stderr, /at Object|\.js:\d+/, 'no stack trace for a refusal');
  assert.deepEqual((JSON.parse(exited(await cli('-l', '--json'), 0, '-l').stdout) as { id: number }[]).map((backup) => backup.id), [1, 2]);
  // What it stored before the chunk that would pass the quota is not kept for a retry (it would stop there again).
  calls = await notify.calls(4);
  assert.deepEqual(calls.map((n) => n.outcome), ['success', 'success', 'quota', 'failure']);
  assert.match(calls[3].reason!, /stopped: it reached its hard_quota/);

  // A quota lowered under the usage: the next backup is refused at its start, before anything is written.
  await server.stop();
  await writeFile(join(sandbox.clientsDirectory, 'node1'), 'ssl_peer_cn = node1\nhard_quota = 120K\n');
  const restarted = await sandbox.startServer();
  const config2 = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const cli2 = (...args: string[]) => sandbox.runClient(['-c', config2, ...args]);
  const refused = exited(await cli2('-e'), 1, 'backup 4 (usage at or above hard_quota)');
  // The usage the stopped backup began with: nothing of it counts.
  assert.match(refused.stderr, /backup of client "node1" refused: it uses 140\.\d KiB \(\d+ bytes\) of the store, at or above its hard_quota of 120\.0 KiB \(122880 bytes\)/);
  assert.doesNotMatch(refused.stderr, /at Object|\.js:\d+/, 'no stack trace for a refusal');
  const list = JSON.parse(exited(await cli2('-l', '--json'), 0, '-l').stdout) as { id: number }[];
  assert.deepEqual(list.map((backup) => backup.id), [1, 2], 'the refused backup is nowhere');
  assert.deepEqual(await packFiles(sandbox.storeDirectory), packsBefore, 'nothing was written for it, and the stopped backup\'s packs are gone');
  calls = await notify.calls(5);
  assert.deepEqual(calls.map((n) => n.outcome), ['success', 'success', 'quota', 'failure', 'failure']);
  assert.equal(calls[4].backupId, null);
  assert.match(calls[4].reason!, /hard_quota/);
  assert.match(restarted.log(), /upload from node1: backup of client "node1" refused: it uses/);

  // Deleting backups brings usage down at once (the client's rows for what only they used go with them), and backups go again.
  exited(await cli2('-d', '2', '--force'), 0, '-d 2');
  await rm(join(data, 'b.bin'));
  await rm(join(data, 'c.bin'));
  exited(await cli2('-e'), 0, 'backup after freeing space (60 KiB)');
});

test('a store disk below min_free refuses backups before writing anything, and notifies', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const notify = await notifyScript(sandbox.root);
  await mkdir(sandbox.storeDirectory, { recursive: true });
  const stats = statfsSync(sandbox.root);
  const free = stats.bavail * stats.bsize;
  // More than the disk has free (and than it could ever have): the refusal must come at once.
  const minFree = `${Math.ceil((free + stats.blocks * stats.bsize) / 1024 / 1024 / 1024) + 1}G`;
  await sandbox.rewriteServerConfig(['keep = 10', notify.line, `min_free = ${minFree}`]);
  const server = await sandbox.startServer();
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'a.txt'), 'hello\n');
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const refused = exited(await sandbox.runClient(['-c', config, '-e']), 1, 'backup with the disk below min_free');
  assert.match(refused.stderr, /backup of client "node1" refused: the server's store is low on free space \(see the server log\)/);
  assert.doesNotMatch(refused.stderr, /min_free|bytes\)/, 'the client does not learn the server\'s settings');
  assert.match(server.log(), /the store's disk has [\d.]+ \w+ \(\d+ bytes\) free, below min_free = /);
  const list = JSON.parse(exited(await sandbox.runClient(['-c', config, '-l', '--json']), 0, '-l').stdout) as unknown[];
  assert.deepEqual(list, []);
  assert.deepEqual(await packFiles(sandbox.storeDirectory), [], 'no pack written');
  const calls = await notify.calls(1);
  assert.deepEqual(calls.map((n) => n.outcome), ['failure']);
  assert.match(calls[0].reason!, /low on free space .*\(the store's disk has .* below min_free = /);

  // With min_free under what is free, the same backup goes through.
  await server.stop();
  await sandbox.rewriteServerConfig(['keep = 10', notify.line, 'min_free = 1M']);
  await sandbox.startServer();
  const config2 = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  exited(await sandbox.runClient(['-c', config2, '-e']), 0, 'backup with min_free = 1M');
});

test('a chunk two clients hold counts whole for each; the notification tells the operator how much of it others hold too', async (t) => {
  const sandbox = await Sandbox.create({ clients: [] });
  t.after(() => sandbox.destroy());
  const notify = await notifyScript(sandbox.root);
  // soft_quota = 1 byte: each client's first backup sends one quota notification carrying its usage.
  await sandbox.addClient('node1', ['soft_quota = 1']);
  await sandbox.addClient('node2', ['soft_quota = 1']);
  await sandbox.rewriteServerConfig(['keep = 10', notify.line]);
  await sandbox.startServer();
  const shared = randomBytes(96 * 1024);
  const usageAfterBackup = async (client: string, own: number, count: number): Promise<NonNullable<Notification['quota']>> => {
    const data = join(sandbox.root, `data-${client}`);
    await mkdir(data);
    await writeFile(join(data, 'shared.bin'), shared);
    await writeFile(join(data, 'own.bin'), randomBytes(own));
    const config = await sandbox.writeNodeConfig(client, [`include = ${data}`]);
    exited(await sandbox.runClient(['-c', config, '-e']), 0, `backup of ${client}`);
    const quota = (await notify.calls(count)).filter((n) => n.outcome === 'quota' && n.client === client);
    assert.equal(quota.length, 1);
    return quota[0].quota!;
  };
  const first = await usageAfterBackup('node1', 10 * 1024, 2);
  assert.equal(first.sharedBytes, 0);
  assert.ok(first.usageBytes >= 106 * 1024 && first.usageBytes < 107 * 1024, `node1 alone: ${first.usageBytes}`);
  assert.equal(first.ownBytes, first.usageBytes);
  const second = await usageAfterBackup('node2', 20 * 1024, 4);
  // Its own copy of the shared 96 KiB, whole: what it would be charged had node1 never had them.
  assert.ok(second.usageBytes >= 116 * 1024 && second.usageBytes < 117 * 1024, `node2: ${second.usageBytes}`);
  assert.ok(second.ownBytes >= 20 * 1024 && second.ownBytes < 21 * 1024, `node2's own: ${second.ownBytes}`);
  assert.ok(second.sharedBytes >= 96 * 1024 && second.sharedBytes < 97 * 1024, `the shared 96 KiB, whole: ${second.sharedBytes}`);
  assert.equal(second.usageBytes, second.ownBytes + second.sharedBytes);
});
