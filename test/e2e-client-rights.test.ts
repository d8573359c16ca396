// Client rights (issue 16, burp's client_can_*): an append-only client (client_can_delete = 0) backs up,
// lists and restores but cannot delete or unprotect; a client without list, restore or force_backup is
// refused those calls with PERMISSION_DENIED naming the right, while its daemon's scheduled backups still go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join, resolve as resolvePath } from 'node:path';
import { Sandbox } from './support/sandbox';
import { writeDeterministicFile } from './support/trees';
import { loadNodeConfig } from '../src/common/config/node-config';
import { runBackup } from '../src/client/uploader';
import { BackupKind } from '../src/proto/cpsbackup';

const CLI = resolvePath(__dirname, '..', 'src', 'cli', 'cpsbackup.js');

test('client_can_* rights are enforced by the server and named in every refusal', async (t) => {
  const sandbox = await Sandbox.create({ clients: [] });
  t.after(() => sandbox.destroy());
  await sandbox.addClient('appendonly', ['client_can_delete = 0']);
  await sandbox.addClient('locked', ['client_can_list = 0', 'client_can_restore = 0', 'client_can_force_backup = 0']);
  await sandbox.addClient('flooded', ['client_can_delete = 0', 'keep = 2']);
  await sandbox.addClient('floodedoff', ['client_can_delete = 0', 'keep = 2', 'append_only_keep_days = 0']);
  const data = join(sandbox.root, 'data');
  await writeDeterministicFile(join(data, 'file.bin'), 'rights', 50_000);
  const server = await sandbox.startServer();
  const appendOnly = await sandbox.writeNodeConfig('appendonly', [`include = ${data}`]);
  const locked = await sandbox.writeNodeConfig('locked', [`include = ${data}`]);
  const run = (config: string, args: string[]) => sandbox.runClient(['-c', config, ...args]);
  const expectOk = async (config: string, args: string[]): Promise<string> => {
    const result = await run(config, args);
    assert.equal(result.code, 0, `cpsbackup ${args.join(' ')} failed:\n${result.stdout}${result.stderr}`);
    return result.stdout;
  };
  const expectRefused = async (config: string, args: string[], key: string): Promise<void> => {
    const result = await run(config, args);
    assert.equal(result.code, 12, `cpsbackup ${args.join(' ')} must be refused:\n${result.stdout}${result.stderr}`);
    assert.match(result.stderr, new RegExp(`server refused: client "\\w+" may not .*: ${key} = 0 in its record on the server$`, 'm'));
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'a refusal is one line, no stack');
  };

  await t.test('append-only: -e, -l, -s, -i work; -d (even --force) and --unprotect are refused; the backups stay', async () => {
    await expectOk(appendOnly, ['-e']);
    await expectOk(appendOnly, ['-e']);
    await expectOk(appendOnly, ['-s', '1']);
    await expectOk(appendOnly, ['-i', '1', '--to', join(sandbox.root, 'restored')]);
    await expectRefused(appendOnly, ['-d', '1'], 'client_can_delete');
    await expectRefused(appendOnly, ['-d', '2', '--force'], 'client_can_delete');
    await expectOk(appendOnly, ['--protect', '1']);
    await expectRefused(appendOnly, ['--unprotect', '1'], 'client_can_delete');
    const listed = await expectOk(appendOnly, ['-l']);
    assert.match(listed, /^Backup: 0000001 .*protected/m);
    assert.match(listed, /^Backup: 0000002 /m);
    assert.match(server.log(), /set client_can_delete = 1 in .*appendonly and send SIGHUP/, 'the server log says how to allow it');
  });

  // Review: retention after each commit counts backups (keep = N), so a stolen append-only node that
  // committed N backups made the server delete every real one. Every backup younger than
  // append_only_keep_days (7 by default, the server's clock) is kept now; 0 takes that back.
  await t.test('append-only: a flood of backups pushes out no backup younger than append_only_keep_days', async () => {
    for (const client of ['flooded', 'floodedoff']) {
      const config = await sandbox.writeNodeConfig(client, [`include = ${data}`]);
      for (let index = 0; index < 5; index++) await expectOk(config, ['-e']);
      const listed = (await expectOk(config, ['-l'])).split('\n').filter((line) => line.startsWith('Backup: '));
      assert.equal(listed.length, client === 'flooded' ? 5 : 2, `${client}:\n${listed.join('\n')}`);
    }
    const dryRun = await sandbox.runServerCommand(['retention', '--dry-run', 'flooded']);
    assert.equal(dryRun.code, 0, dryRun.stderr);
    assert.match(dryRun.stdout, /flooded 0000001 .* kept: append-only client, younger than 7 days \(append_only_keep_days\)/);
    assert.match(server.log(), /clients append-only \(client_can_delete = 0\): appendonly, flooded, floodedoff: retention keeps every backup/);
  });

  await t.test('without list, restore and force_backup: -l, -s, -i, -e are refused; a scheduled backup is accepted', async () => {
    await expectRefused(locked, ['-e'], 'client_can_force_backup');
    // What the daemon sends on its schedule (daemon-jobs.ts): the same client library, flagged scheduled.
    const config = loadNodeConfig(locked);
    const { summary } = await runBackup(config, { kind: BackupKind.BACKUP_KIND_COMPLETE, isScheduled: true });
    assert.equal(summary.backupId, 1);
    await expectRefused(locked, ['-l'], 'client_can_list');
    await expectRefused(locked, ['-s', '1'], 'client_can_list');
    await expectRefused(locked, ['--diff', '1', '1'], 'client_can_list');
    await expectRefused(locked, ['--find', '*'], 'client_can_list');
    await expectRefused(locked, ['-i', '1', '--to', join(sandbox.root, 'locked-restore')], 'client_can_restore');
    // Deleting was not taken away: the record's other rights stay at their default 1.
    await expectOk(locked, ['-d', '1', '--force']);
  });

  await t.test('the real daemon backs up on its schedule without client_can_force_backup', async () => {
    const scheduled = await sandbox.writeNodeConfig('locked', [`include = ${data}`, 'schedule_complete = * * * * * *']);
    const daemon = spawn(process.execPath, [CLI, 'daemon', '-c', scheduled], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    daemon.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    daemon.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    const exited = new Promise((resolve) => daemon.once('exit', resolve));
    try {
      const deadline = Date.now() + 60_000; // guards against a hang only
      while (!/complete: backup \d+ committed/.test(output) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.match(output, /complete: backup \d+ committed/);
      assert.doesNotMatch(output, /client_can_force_backup/);
    } finally {
      daemon.kill('SIGTERM');
      await exited;
    }
  });

  await t.test('a right that is not 0 or 1 refuses the record, naming its line', async () => {
    await sandbox.addClient('typo', ['client_can_delete = nope']);
    server.process.kill('SIGHUP');
    const deadline = Date.now() + 10_000;
    while (!/typo:2: client_can_delete must be 0 or 1/.test(server.log()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.match(server.log(), /typo:2: client_can_delete must be 0 or 1, got "nope"/);
  });
});
