// Proves certificate revocation through the real CLIs: `cpsbackup-ca revoke` writes crl.pem beside ca.pem,
// a SIGHUP makes the running server refuse the revoked certificate at the TLS handshake (logged with its
// client's name) and close its connection already open (a backup running on it exits 12 with the reason), other clients go on, a certificate re-issued for the same name works, and a bad list never
// replaces a good one. The revoked client is told its certificate was refused (exit 12), not that the server is down;
// with the server stopped, it reads "cannot reach".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import http2 from 'node:http2';
import { join, resolve } from 'node:path';
import { Sandbox, runNode, type SandboxServer } from './support/sandbox';
import { sighupAndWaitFor, waitUntil, writtenPackBytes } from './support/fault-tools';
import { writeDeterministicFile } from './support/trees';
import { startClient } from './support/background-client';

const caCli = resolve(__dirname, '..', 'src', 'cli', 'cpsbackup-ca.js');
const opensslMissing = spawnSync('openssl', ['version']).status === 0 ? false : 'the openssl CLI is not installed';

test('a revoked client certificate is refused from the next SIGHUP; a re-issued one for the same name works', { skip: opensslMissing }, async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1', 'node2'] });
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  await writeDeterministicFile(join(data, 'file.bin'), 'revocation', 50_000);
  let server = await sandbox.startServer();
  assert.match(server.log(), /no revocation list: .*crl\.pem does not exist/);
  const node1 = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const node2 = await sandbox.writeNodeConfig('node2', [`include = ${data}`]);
  // What node2 holds on its own machine: revoke deletes the CA folder's copy, not the node's.
  const node2Copy = join(sandbox.root, 'node2-copy');
  await mkdir(node2Copy);
  await copyFile(join(sandbox.sslDirectory, 'clients', 'node2.pem'), join(node2Copy, 'node2.pem'));
  await copyFile(join(sandbox.sslDirectory, 'clients', 'node2.key'), join(node2Copy, 'node2.key'));
  const revokedNode2 = join(sandbox.root, 'node2-revoked.conf');
  const writeRevokedConfig = (port: number): Promise<void> => writeFile(revokedNode2, [
    'server = 127.0.0.1', `port = ${port}`, 'server_name = localhost',
    `ssl_cert = ${join(node2Copy, 'node2.pem')}`, `ssl_key = ${join(node2Copy, 'node2.key')}`,
    `ssl_ca = ${join(sandbox.sslDirectory, 'ca.pem')}`,
    `work_directory = ${join(sandbox.root, 'work', 'node2')}`, `state_directory = ${join(sandbox.root, 'state', 'node2')}`,
    `include = ${data}`, '',
  ].join('\n'));
  await writeRevokedConfig(server.port);
  const run = (config: string, args: string[]) => sandbox.runClient(['-c', config, ...args]);
  const expectOk = async (config: string, args: string[]): Promise<string> => {
    const result = await run(config, args);
    assert.equal(result.code, 0, `cpsbackup ${args.join(' ')} failed:\n${result.stdout}${result.stderr}`);
    return result.stdout;
  };
  const ca = (args: string[]) => runNode(caCli, args, 60_000);
  const expectRevokedRefusal = async (target: SandboxServer): Promise<void> => {
    const refusals = (): number => (target.log().match(/client "node2" \(serial [0-9A-F]+\): certificate revoked/g) ?? []).length;
    const before = refusals();
    const result = await run(revokedNode2, ['-l']);
    // Not "cannot reach the server": the operator of node2 must ask for a new certificate, not restart a server.
    assert.equal(result.code, 12, `${result.stdout}${result.stderr}`);
    assert.match(result.stderr, /^cpsbackup: the server at 127\.0\.0\.1:\d+ refused this client's certificate \S+node2\.pem \(revoked, expired, signed by another CA, or without a client record on the server\): ask the server's operator for a new one or for its record$/m);
    assert.equal(result.stdout, '', 'a revoked client learns nothing');
    assert.ok(refusals() > before, `the server logs the refusal with the client's name:\n${target.log()}`);
  };

  await expectOk(node1, ['-e']);
  await expectOk(revokedNode2, ['-e']);

  await t.test('revoke writes crl.pem beside ca.pem and frees the name', async () => {
    const revoked = await ca(['revoke', '--dir', sandbox.sslDirectory, 'node2']);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, /^revoked node2 \(serial [0-9A-F]+\)/);
    assert.match(revoked.stdout, new RegExp(`wrote ${join(sandbox.sslDirectory, 'crl.pem')} \\(1 revoked\\)`));
    const again = await ca(['revoke', '--dir', sandbox.sslDirectory, 'node2']);
    assert.equal(again.code, 2, 'nothing left to revoke under that name');
    assert.match(again.stderr, /no certificate .*node2\.pem to revoke/);
  });

  await t.test('before SIGHUP the running server still accepts it; after, it is refused at the handshake and named in the log', async () => {
    await expectOk(revokedNode2, ['-l']);
    // A connection node2 opened before the reload (an HTTP/2 session, as a channel holds it): the reload closes it.
    const session = http2.connect(`https://127.0.0.1:${server.port}`, {
      servername: 'localhost', ca: await readFile(join(sandbox.sslDirectory, 'ca.pem')),
      cert: await readFile(join(node2Copy, 'node2.pem')), key: await readFile(join(node2Copy, 'node2.key')),
    });
    session.on('error', () => undefined);
    let isClosed = false;
    session.once('close', () => { isClosed = true; });
    await once(session, 'remoteSettings');
    // And a backup of node2 running through the reload, on a stream that never ends: cut off mid-call, it is told why.
    const stream = join(sandbox.root, 'node2-stream');
    await mkdir(stream);
    const fifo = join(stream, 'endless.fifo');
    spawnSync('mkfifo', [fifo]);
    const writer = spawn('sh', ['-c', `exec cat /dev/urandom > '${fifo}'`], { stdio: 'ignore' });
    t.after(() => { writer.kill('SIGKILL'); });
    const streaming = join(sandbox.root, 'node2-revoked-streaming.conf');
    await writeFile(streaming, (await readFile(revokedNode2, 'utf8')).replace(`include = ${data}\n`, `include = ${stream}\nread_all_fifos = 1\n`));
    const storedBefore = await writtenPackBytes(sandbox);
    const midCall = startClient(['-c', streaming, '-e']);
    t.after(() => midCall.stop());
    await waitUntil(async () => (await writtenPackBytes(sandbox)) > storedBefore + 2 * 1024 * 1024, 'node2\'s streaming backup to be under way');
    await sighupAndWaitFor(server, /reloaded: revocation list .*crl\.pem in force: 1 revoked, valid until 20\d\d-/);
    await waitUntil(() => isClosed, 'the server to close node2\'s open connection');
    assert.match(server.log(), /closing the open connection from 127\.0\.0\.1:\d+: client "node2" \(serial [0-9A-F]+\): certificate revoked/);
    const cut = await midCall.result;
    writer.kill('SIGKILL');
    assert.equal(cut.code, 12, `${cut.stdout}${cut.stderr}`);
    assert.match(cut.stderr, /^cpsbackup: the server at 127\.0\.0\.1:\d+ refused this client's certificate \S+node2\.pem \(revoked, expired, signed by another CA, or without a client record on the server\)/m);
    await expectRevokedRefusal(server);
    // Refused before any call: the server never saw a call from node2 after the reload.
    assert.doesNotMatch(server.log().split(/reloaded: revocation list/).pop() ?? '', /certificate CN "node2"/);
    assert.match(await expectOk(node1, ['-l']), /^Backup: 0000001 /, 'other clients go on');
  });

  await t.test('a certificate re-issued for the same name has a new serial and is accepted', async () => {
    const issued = await ca(['client', '--dir', sandbox.sslDirectory, 'node2']);
    assert.equal(issued.code, 0, issued.stderr);
    assert.match(await expectOk(node2, ['-l']), /^Backup: 0000001 /, 'node2 sees its backups again');
    await expectRevokedRefusal(server);
  });

  await t.test('an unusable list on SIGHUP keeps the one in force', async () => {
    await writeFile(join(sandbox.sslDirectory, 'crl.pem'), 'not a list\n');
    await sighupAndWaitFor(server, /revocation list not reloaded, the previous one stays in force: .*holds no PEM revocation list/);
    await expectRevokedRefusal(server);
    await expectOk(node2, ['-l']);
    const rewritten = await ca(['crl', '--dir', sandbox.sslDirectory]);
    assert.equal(rewritten.code, 0, rewritten.stderr);
    assert.match(rewritten.stdout, /\(1 revoked, valid 3650 days\)/);
  });

  await t.test('a server started with the list refuses the revoked certificate from the first connection', async () => {
    await server.stop();
    server = await sandbox.startServer();
    assert.match(server.log(), /revocation list .*crl\.pem in force/);
    await writeRevokedConfig(server.port);
    await sandbox.writeNodeConfig('node2', [`include = ${data}`]);
    await expectRevokedRefusal(server);
    await expectOk(await sandbox.writeNodeConfig('node1', [`include = ${data}`]), ['-l']);
  });

  await t.test('the daemon of a revoked client logs the refusal, not a server that is down, and keeps running', async () => {
    const daemonConfig = join(sandbox.root, 'node2-revoked-daemon.conf');
    await writeFile(daemonConfig, `${await readFile(revokedNode2, 'utf8')}schedule_complete = * * * * * *\n`);
    const daemon = startClient(['daemon', '-c', daemonConfig]);
    t.after(() => daemon.stop());
    const refused = /the server at 127\.0\.0\.1:\d+ refused this client's certificate \S+node2\.pem \(revoked, expired, signed by another CA, or without a client record on the server\)/;
    await waitUntil(() => new RegExp(` error complete: failed after [\\d.]+ s: ${refused.source}`).test(daemon.output()),
      'a scheduled backup to fail on the refused certificate');
    assert.match(daemon.output(), new RegExp(` warn complete: cannot check for a missed run: ${refused.source}`));
    daemon.child.kill('SIGTERM');
    const { code } = await daemon.result;
    assert.equal(code, 0, daemon.output());
    assert.doesNotMatch(daemon.output(), /cannot reach/);
  });

  await t.test('with the server stopped, the revoked client and a valid one both read "cannot reach the backup server", exit 1', async () => {
    const node1Config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
    await server.stop();
    for (const config of [revokedNode2, node1Config]) {
      const result = await run(config, ['-l']);
      assert.equal(result.code, 1, `${result.stdout}${result.stderr}`);
      assert.match(result.stderr, /^cpsbackup: cannot reach the backup server at 127\.0\.0\.1:\d+: .*ECONNREFUSED/m);
      assert.doesNotMatch(result.stderr, /refused this client's certificate/);
    }
    // The failed backup's report to the server fails the same way: said once, not again as a raw gRPC warning (operator review).
    const backup = await run(node1Config, ['-e']);
    assert.equal(backup.code, 1, `${backup.stdout}${backup.stderr}`);
    assert.match(backup.stderr, /^cpsbackup: cannot reach the backup server at 127\.0\.0\.1:\d+: .*ECONNREFUSED/m);
    assert.doesNotMatch(backup.stderr, /could not be told|Resolution note|UNAVAILABLE/);
  });

  await t.test('ssl_crl naming a missing file stops the start with file:line', async () => {
    await sandbox.rewriteServerConfig([`ssl_crl = ${join(sandbox.root, 'missing-crl.pem')}`]);
    const result = await sandbox.runServerCommand([]);
    assert.equal(result.code, 2, `${result.stdout}${result.stderr}`);
    assert.match(result.stderr, /server\.conf:10: ssl_crl: .*missing-crl\.pem does not exist/);
  });

  await t.test("another CA's revocation list stops the start, a bundle that also holds a differently named CA's list does not", async () => {
    // Before, a foreign list let the server start, and then OpenSSL refused every node.
    const otherCa = join(sandbox.root, 'other-ca');
    assert.equal((await ca(['init', '--dir', otherCa])).code, 0);
    assert.equal((await ca(['crl', '--dir', otherCa])).code, 0);
    await sandbox.rewriteServerConfig([`ssl_crl = ${join(otherCa, 'crl.pem')}`]);
    const foreignList = await sandbox.runServerCommand([]);
    assert.equal(foreignList.code, 2, `${foreignList.stdout}${foreignList.stderr}`);
    assert.match(foreignList.stderr, /ssl_crl: \S+other-ca\/crl\.pem was not issued by the CA of ssl_ca \S+ca\.pem: write it anew with cpsbackup-ca crl/);

    // A CA of another name: OpenSSL never takes its list for ssl_ca's, so a file holding both serves.
    const namedCa = join(sandbox.root, 'named-ca');
    assert.equal((await ca(['init', '--dir', namedCa, '--cn', 'another site CA'])).code, 0);
    assert.equal((await ca(['crl', '--dir', namedCa])).code, 0);
    const namedOnly = join(sandbox.root, 'named-only.pem');
    await copyFile(join(namedCa, 'crl.pem'), namedOnly);
    await sandbox.rewriteServerConfig([`ssl_crl = ${namedOnly}`]);
    const noOwnList = await sandbox.runServerCommand([]);
    assert.equal(noOwnList.code, 2, `${noOwnList.stdout}${noOwnList.stderr}`);
    assert.match(noOwnList.stderr, /ssl_crl: \S+named-only\.pem holds no list of the CA of ssl_ca/);
    const bundle = join(sandbox.root, 'bundle.pem');
    await writeFile(bundle, Buffer.concat([await readFile(join(namedCa, 'crl.pem')), await readFile(join(sandbox.sslDirectory, 'crl.pem'))]));
    await sandbox.rewriteServerConfig([`ssl_crl = ${bundle}`]);
    const bundled = await sandbox.startServer();
    try {
      assert.match(bundled.log(), /revocation list \S+bundle\.pem in force: 1 revoked/);
      const node1Config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
      await expectOk(node1Config, ['-l']);
      await writeRevokedConfig(bundled.port);
      await expectRevokedRefusal(bundled);
    } finally {
      await bundled.stop();
    }
  });
});
