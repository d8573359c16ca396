// Regression (issue 13): one invalid file in the clients folder (`restore_client = ../node1`, or
// `cp clients/node1 clients/node1.bak` giving two records one ssl_peer_cn) made every client's call
// fail, and each client was shown the server's clients folder and the key to add. Now, beside working
// clients, each bad record refuses only itself (a shared CN: every claimant), editor and backup files
// are ignored, the server log names file:line, clients see no server path, and SIGHUP reloads the
// folder: a record added works, a record broken is refused alone, an unlistable folder keeps the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox, type CommandResult } from './support/sandbox';
import { issueClientCertificate } from '../src/ca/ca';
import { assertRestoresExactly, backupNow, reloadClients as reload, waitUntil, type KnownBackup } from './support/fault-tools';


test('bad client records beside working clients: each refuses only itself, clients see no server path, SIGHUP reloads', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1', 'node2'] });
  t.after(() => sandbox.destroy());
  const clients = sandbox.clientsDirectory;
  const record = (name: string, lines: readonly string[]): Promise<void> => writeFile(join(clients, name), [...lines, ''].join('\n'));
  for (const name of ['evil', 'shared', 'typo', 'node3']) await issueClientCertificate(sandbox.sslDirectory, name);
  await record('evil', ['ssl_peer_cn = evil', 'restore_client = ../node1']);
  await record('dup-a', ['ssl_peer_cn = shared']);
  await record('dup-b', ['# a copy under another name', 'ssl_peer_cn = shared', 'restore_client = node1']);
  await record('typo', ['ssl_peer_cn = typo', 'kepp = 3']);
  // The operator's copies and editors' leftovers: not clients, and not a second claim on node1's CN.
  for (const leftover of ['node1.bak', 'node1~', '.node1.swp', 'node1.orig', 'node1.dpkg-old', 'node1.rpmnew', '#node1#']) {
    await copyFile(join(clients, 'node1'), join(clients, leftover));
  }
  execFileSync('mkfifo', [join(clients, 'fifo-client')]);
  await mkdir(join(clients, 'folder-client'));
  const server = await sandbox.startServer();

  const seenByClients: string[] = [];
  const run = async (config: string, args: readonly string[]): Promise<CommandResult> => {
    const result = await sandbox.runClient(['-c', config, ...args]);
    seenByClients.push(result.stdout, result.stderr);
    return result;
  };
  const data = (name: string): string => join(sandbox.root, `${name}-data`);
  const configs = new Map<string, string>();
  for (const name of ['node1', 'node2', 'evil', 'shared', 'typo', 'node3']) {
    await mkdir(data(name));
    await writeFile(join(data(name), 'file.txt'), `${name}'s data\n`);
    configs.set(name, await sandbox.writeNodeConfig(name, [`include = ${data(name)}`]));
  }
  const configOf = (name: string): string => configs.get(name)!;
  const backups: KnownBackup[] = [];
  const backupWorks = async (name: string): Promise<void> => {
    const backup = await backupNow(sandbox, configOf(name), data(name));
    if (name === 'node1') backups.push(backup);
    await assertRestoresExactly(sandbox, configOf(name), [backup]);
  };
  const assertRefused = async (name: string, args: readonly string[] = ['-l']): Promise<void> => {
    const result = await run(configOf(name), args);
    assert.equal(result.code, 12, `${name} ${args.join(' ')}: ${result.stdout}${result.stderr}`);
    // Refused at accept, before HTTP/2: the client hears that its certificate was refused, never why.
    assert.match(result.stderr, /refused this client's certificate/);
  };

  await t.test('working clients back up, list and restore; every bad record is refused alone', async () => {
    await backupWorks('node1');
    await backupWorks('node2');
    await assertRefused('evil');
    await assertRefused('evil', ['-e']);
    await assertRefused('shared');
    await assertRefused('typo', ['-e']);
    const foreign = await run(configOf('node2'), ['-l', '--client', 'node1']);
    assert.equal(foreign.code, 12, foreign.stderr);
    assert.match(foreign.stderr, /client "node2" may not read backups of client "node1"/);
  });

  await t.test('the server log names each refused file and line; the leftovers are ignored', () => {
    const log = server.log();
    assert.match(log, new RegExp(`${join(clients, 'evil')}:2: restore_client: "\\.\\./node1" is not a valid client name; client "evil" is refused`));
    assert.match(log, new RegExp(`${join(clients, 'typo')}:2: unknown key "kepp"; client "typo" is refused`));
    assert.match(log, new RegExp(`${join(clients, 'dup-a')}: ssl_peer_cn "shared" is also claimed by ${join(clients, 'dup-b')}`));
    assert.match(log, new RegExp(`${join(clients, 'dup-b')}: ssl_peer_cn "shared" is also claimed by ${join(clients, 'dup-a')}`));
    assert.match(log, new RegExp(`${join(clients, 'fifo-client')}: is a FIFO, not a regular file; client "fifo-client" is refused`));
    assert.match(log, new RegExp(`${join(clients, 'folder-client')}: is a folder, not a regular file`));
    assert.match(log, /clients loaded from .*: 2 accepted \(node1, node2\); 6 record\(s\) refused/);
    for (const leftover of ['node1.bak', 'node1~', '.node1.swp', 'node1.orig', 'node1.dpkg-old', 'node1.rpmnew', '#node1#']) {
      assert.ok(log.includes(`ignored ${join(clients, leftover)} (an editor or backup file)`), leftover);
    }
    // The refusals the clients got are logged with what the client was not told.
    assert.match(log, /refused a connection from \S+: client "evil" \(serial \w+\): no accepted client record \(certificate CN "evil" is claimed by a refused record: .*evil:2: restore_client/);
    assert.match(log, new RegExp(`may not read backups of client "node1" \\(to allow it, add restore_client = node1 to ${join(clients, 'node2')} and send SIGHUP`));
  });

  await t.test('SIGHUP: a record added is accepted, one broken is refused alone, one fixed comes back', async () => {
    await assertRefused('node3', ['-e']);
    await record('node3', ['ssl_peer_cn = node3']);
    await record('node2', ['ssl_peer_cn = node2', 'keep = seven']);
    await record('evil', ['ssl_peer_cn = evil']);
    await reload(server);
    await backupWorks('node3');
    await backupWorks('evil');
    await backupWorks('node1');
    const broken = await run(configOf('node2'), ['-l']);
    assert.equal(broken.code, 12, broken.stderr);
    assert.match(server.log(), new RegExp(`${join(clients, 'node2')}:2: keep must be an integer, got "seven"; client "node2" is refused \\(it was accepted before this reload\\)`));
    assert.match(server.log(), /clients reloaded from .*: 3 accepted \(evil, node1, node3\)/);
  });

  await t.test('SIGHUP with the clients folder gone keeps the previous clients; back, it reloads again', async () => {
    await rename(clients, `${clients}.moved`);
    await reload(server);
    assert.match(server.log(), /clients not reloaded, keeping the previous 3 \(evil, node1, node3\): .*clientconfdir: .*clients does not exist/);
    await backupWorks('node1');
    await rename(`${clients}.moved`, clients);
    await record('node2', ['ssl_peer_cn = node2']);
    await reload(server);
    await backupWorks('node2');
    assert.equal(server.process.exitCode, null, 'SIGHUP never stops the server');
  });

  await t.test('nothing a client saw names a server path or the server\'s configuration', async () => {
    await assertRestoresExactly(sandbox, configOf('node1'), backups);
    const seen = seenByClients.join('\n');
    for (const secret of [clients, sandbox.storeDirectory, sandbox.serverConfigFile, 'clientconfdir', 'ssl_peer_cn', 'restore_client', 'SIGHUP']) {
      assert.ok(!seen.includes(secret), `a client saw "${secret}":\n${seen}`);
    }
  });
});

test('a server with no valid client record starts, says so loudly, and refuses everyone until a record and SIGHUP', async (t) => {
  const sandbox = await Sandbox.create({ clients: [] });
  t.after(() => sandbox.destroy());
  await issueClientCertificate(sandbox.sslDirectory, 'node1');
  await writeFile(join(sandbox.clientsDirectory, 'node1.bak'), 'ssl_peer_cn = node1\n');
  const server = await sandbox.startServer();
  assert.match(server.log(), /error clients loaded from .*: NO valid client record; every client is refused until one is added \(then send SIGHUP\)/);
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'file.txt'), 'first\n');
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const refused = await sandbox.runClient(['-c', config, '-e']);
  assert.equal(refused.code, 12, refused.stderr);
  await writeFile(join(sandbox.clientsDirectory, 'node1'), 'ssl_peer_cn = node1\n');
  await reload(server);
  const backup = await backupNow(sandbox, config, data);
  await assertRestoresExactly(sandbox, config, [backup]);
});

test('a client whose record an edit broke does not go quiet: refused, it becomes overdue and is notified', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1'] });
  t.after(() => sandbox.destroy());
  const notifications = join(sandbox.root, 'notifications.jsonl');
  const script = join(sandbox.root, 'notify.sh');
  await writeFile(script, `#!/bin/sh\ncat >> ${notifications}\necho >> ${notifications}\n`, { mode: 0o755 });
  await sandbox.rewriteServerConfig(['keep = 10', 'warn_after = 2s', `notify_script = ${script}`]);
  const server = await sandbox.startServer();
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'file.txt'), 'node1\n');
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  await backupNow(sandbox, config, data);
  await writeFile(join(sandbox.clientsDirectory, 'node1'), 'ssl_peer_cn = node1\nkeep_dayz = 3\n');
  await reload(server);
  const refused = await sandbox.runClient(['-c', config, '-e']);
  assert.equal(refused.code, 12, refused.stderr);
  const overdue = async (): Promise<boolean> => {
    const text = await readFile(notifications, 'utf8').catch(() => '');
    return text.split('\n').some((line) => line !== '' && (JSON.parse(line) as { outcome: string; client: string }).outcome === 'overdue'
      && (JSON.parse(line) as { client: string }).client === 'node1');
  };
  await waitUntil(overdue, 'an overdue notification for node1', 30_000);
});
