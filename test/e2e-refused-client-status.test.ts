// A client whose own certificate the handshake refuses (revoked here; expired or not yet valid alike)
// never reaches a call, and its status stayed "ok" while every backup of it failed. The refusal is now
// its failed attempt, with the reason; a certificate another CA made for the same name is not: anyone
// can write any CN into a certificate of their own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Sandbox, runNode } from './support/sandbox';
import { sighupAndWaitFor, waitUntil } from './support/fault-tools';

const caCli = resolve(__dirname, '..', 'src', 'cli', 'cpsbackup-ca.js');
const opensslMissing = spawnSync('openssl', ['version']).status === 0 ? false : 'the openssl CLI is not installed';

interface StatusClient {
  readonly name: string;
  readonly state: string;
  readonly lastFailure: { readonly reason: string } | null;
}

test('a known client refused at the handshake is failed on the status page, with why; a foreign certificate with its name changes nothing', { skip: opensslMissing }, async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1', 'node2'], serverLines: ['status_details = 1'] });
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'a.txt'), 'a');
  const server = await sandbox.startServer();
  const statusPort = Number(/status on https?:\/\/127\.0\.0\.1:(\d+)/.exec(server.log())?.[1]);
  assert.ok(statusPort > 0, server.log());
  const clients = async (): Promise<Map<string, StatusClient>> => {
    const response = await fetch(`http://127.0.0.1:${statusPort}/status`);
    const body = await response.json() as { clients: StatusClient[] };
    return new Map(body.clients.map((client) => [client.name, client]));
  };
  const node1 = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const node2 = await sandbox.writeNodeConfig('node2', [`include = ${data}`]);
  for (const config of [node1, node2]) {
    const result = await sandbox.runClient(['-c', config, '-e']);
    assert.equal(result.code, 0, result.stdout + result.stderr);
  }
  assert.deepEqual([...(await clients()).values()].map((client) => client.state), ['ok', 'ok']);

  // node2 keeps a copy of its certificate, then it is revoked and the server reloads.
  const kept = join(sandbox.root, 'node2-kept');
  await mkdir(kept);
  for (const file of ['node2.pem', 'node2.key']) await copyFile(join(sandbox.sslDirectory, 'clients', file), join(kept, file));
  const revoked = await runNode(caCli, ['revoke', '--dir', sandbox.sslDirectory, 'node2'], 60_000);
  assert.equal(revoked.code, 0, revoked.stderr);
  await sighupAndWaitFor(server, /reloaded: revocation list .* in force: 1 revoked/);
  const revokedConfig = join(sandbox.root, 'node2-revoked.conf');
  await writeFile(revokedConfig, [
    'server = 127.0.0.1', `port = ${server.port}`, 'server_name = localhost', `include = ${data}`,
    `ssl_cert = ${join(kept, 'node2.pem')}`, `ssl_key = ${join(kept, 'node2.key')}`, `ssl_ca = ${join(sandbox.sslDirectory, 'ca.pem')}`,
    `work_directory = ${join(sandbox.root, 'work', 'node2')}`, `state_directory = ${join(sandbox.root, 'state', 'node2')}`, '',
  ].join('\n'));
  const refused = await sandbox.runClient(['-c', revokedConfig, '-e']);
  assert.equal(refused.code, 12, refused.stdout + refused.stderr);
  await waitUntil(async () => (await clients()).get('node2')?.state === 'failed', 'node2 to show failed (it stayed "ok" before the fix)');
  const node2Status = (await clients()).get('node2')!;
  assert.match(node2Status.lastFailure?.reason ?? '', /its connection was refused: client "?node2"? \(serial [0-9A-F]+\): certificate revoked/);

  // Another CA's certificate for node1: refused, and node1 stays as it was.
  const otherCa = join(sandbox.root, 'other-ca');
  for (const args of [['init', '--dir', otherCa], ['client', '--dir', otherCa, 'node1']]) {
    const made = await runNode(caCli, args, 60_000);
    assert.equal(made.code, 0, made.stderr);
  }
  const forgedConfig = join(sandbox.root, 'node1-forged.conf');
  await writeFile(forgedConfig, [
    'server = 127.0.0.1', `port = ${server.port}`, 'server_name = localhost', `include = ${data}`,
    `ssl_cert = ${join(otherCa, 'clients', 'node1.pem')}`, `ssl_key = ${join(otherCa, 'clients', 'node1.key')}`,
    `ssl_ca = ${join(sandbox.sslDirectory, 'ca.pem')}`,
    `work_directory = ${join(sandbox.root, 'work', 'forged')}`, `state_directory = ${join(sandbox.root, 'state', 'forged')}`, '',
  ].join('\n'));
  const forged = await sandbox.runClient(['-c', forgedConfig, '-e']);
  assert.equal(forged.code, 12, forged.stdout + forged.stderr);
  await waitUntil(() => /client "?node1"? .*certificate not accepted/.test(server.log()), 'the server to log the forged certificate');
  const node1Status = (await clients()).get('node1')!;
  assert.equal(node1Status.state, 'ok');
  assert.equal(node1Status.lastFailure, null);
});
