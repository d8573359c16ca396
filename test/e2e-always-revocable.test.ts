// Guards a hole a security review found: the CA tool revoked only clients/NAME.pem and kept no record of
// what it issued, so once the operator moved a node's files to the node (or deleted them to re-issue),
// that certificate, valid 825 days, could no longer be revoked. Proves through the real CLIs and a real
// server: every certificate issued is recorded in issued/; re-issuing over a live one is refused
// without --replace; --replace revokes the old one (refused after SIGHUP) and the new one works;
// --serial revokes a certificate whose files are gone; --cert refuses another CA's certificate; and a
// CA made before the record still revokes clients/NAME.pem and says how to reach older certificates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Sandbox, runNode, type CommandResult } from './support/sandbox';
import { sighupAndWaitFor } from './support/fault-tools';
import { crlContents } from '../src/common/tls/crl-contents';
import { certificateSerial, type CertificateSerial } from '../src/common/tls/certificate-serial';
import { issueClientCertificate } from '../src/ca/ca';
import { addRevocations } from '../src/ca/ca-revocation-index';

const caCli = resolve(__dirname, '..', 'src', 'cli', 'cpsbackup-ca.js');
const opensslMissing = spawnSync('openssl', ['version']).status === 0 ? false : 'the openssl CLI is not installed';

const ca = (args: string[]): Promise<CommandResult> => runNode(caCli, args, 60_000);

async function expectCa(args: string[], code: number): Promise<CommandResult> {
  const result = await ca(args);
  assert.equal(result.code, code, `cpsbackup-ca ${args.join(' ')}:\n${result.stdout}${result.stderr}`);
  if (code !== 0) assert.match(result.stderr, /^cpsbackup-ca: [^\n]+\n$/, 'a user error is one line');
  return result;
}

async function serialOf(file: string): Promise<CertificateSerial> {
  return certificateSerial(new X509Certificate(await readFile(file)).serialNumber);
}

/** What a node holds on its own machine: the CA folder's copy may be moved or deleted afterwards. */
async function copyToNode(sslDirectory: string, root: string, name: string): Promise<{ cert: string; key: string }> {
  const folder = join(root, `${name}-on-node-${Date.now()}`);
  await mkdir(folder);
  const copy = { cert: join(folder, `${name}.pem`), key: join(folder, `${name}.key`) };
  await copyFile(join(sslDirectory, 'clients', `${name}.pem`), copy.cert);
  await copyFile(join(sslDirectory, 'clients', `${name}.key`), copy.key);
  return copy;
}

async function removeFromCaFolder(sslDirectory: string, name: string): Promise<void> {
  for (const extension of ['pem', 'key']) await rm(join(sslDirectory, 'clients', `${name}.${extension}`));
}

test('every certificate a CA issued stays revocable after its files are moved or deleted', { skip: opensslMissing }, async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1', 'node3', 'node4'] });
  t.after(() => sandbox.destroy());
  const ssl = sandbox.sslDirectory;
  const server = await sandbox.startServer();
  const nodeConfig = async (name: string, copy: { cert: string; key: string }): Promise<string> => {
    const file = join(sandbox.root, `${name}-${await serialOf(copy.cert)}.conf`);
    await mkdir(join(sandbox.root, 'work', name), { recursive: true });
    await writeFile(file, [
      'server = 127.0.0.1', `port = ${server.port}`, 'server_name = localhost',
      `ssl_cert = ${copy.cert}`, `ssl_key = ${copy.key}`, `ssl_ca = ${join(ssl, 'ca.pem')}`,
      `work_directory = ${join(sandbox.root, 'work', name)}`, `state_directory = ${join(sandbox.root, 'state', name)}`, '',
    ].join('\n'));
    return file;
  };
  const listExit = async (config: string): Promise<CommandResult> => sandbox.runClient(['-c', config, '-l']);

  // node3's operator moved its files to the node; node4's were deleted from the CA folder.
  const oldNode3 = await copyToNode(ssl, sandbox.root, 'node3');
  const oldNode3Serial = await serialOf(oldNode3.cert);
  const node4 = await copyToNode(ssl, sandbox.root, 'node4');
  const node4Serial = await serialOf(node4.cert);
  await removeFromCaFolder(ssl, 'node3');
  await removeFromCaFolder(ssl, 'node4');
  const oldNode3Config = await nodeConfig('node3', oldNode3);
  const node4Config = await nodeConfig('node4', node4);
  assert.equal((await listExit(oldNode3Config)).code, 0, 'node3 works before anything is revoked');
  assert.equal((await listExit(node4Config)).code, 0, 'node4 works before anything is revoked');

  await t.test('the record holds a copy of each certificate issued, never a key', async () => {
    const issued = join(ssl, 'issued');
    assert.equal((await stat(issued)).mode & 0o777, 0o700);
    const files = (await readdir(issued)).sort();
    assert.deepEqual(files.filter((file) => file.startsWith('node3-')), [`node3-${oldNode3Serial.padStart(Math.ceil(oldNode3Serial.length / 2) * 2, '0')}.pem`]);
    for (const file of files) {
      const text = await readFile(join(issued, file), 'utf8');
      assert.match(text, /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/, file);
      assert.doesNotMatch(text, /PRIVATE KEY/, file);
    }
  });

  await t.test('re-issuing for a name whose certificate is not revoked is refused without --replace', async () => {
    const refused = await expectCa(['client', '--dir', ssl, 'node3'], 2);
    assert.match(refused.stderr, new RegExp(`node3 has a certificate that is not revoked \\(serial 0*${oldNode3Serial}\\): give --replace`));
    assert.deepEqual((await readdir(join(ssl, 'clients'))).filter((file) => file.startsWith('node3')), [], 'nothing was written');
  });

  let newNode3Config = '';
  await t.test('--replace revokes the old certificate and issues a new one in one step', async () => {
    const replaced = await expectCa(['client', '--dir', ssl, '--replace', 'node3'], 0);
    assert.match(replaced.stdout, new RegExp(`^revoked node3 \\(serial 0*${oldNode3Serial}\\)\n`));
    assert.match(replaced.stdout, /wrote \S+crl\.pem \(1 revoked\)/);
    assert.match(replaced.stdout, /send SIGHUP; from then on only the new certificate of node3 is accepted/);
    const fresh = { cert: join(ssl, 'clients', 'node3.pem'), key: join(ssl, 'clients', 'node3.key') };
    assert.notEqual(await serialOf(fresh.cert), oldNode3Serial);
    newNode3Config = await nodeConfig('node3', await copyToNode(ssl, sandbox.root, 'node3'));
  });

  await t.test('revoke --serial revokes a certificate whose files are gone', async () => {
    const revoked = await expectCa(['revoke', '--dir', ssl, '--serial', node4Serial.toLowerCase()], 0);
    assert.match(revoked.stdout, new RegExp(`^revoked node4 \\(serial 0*${node4Serial}\\)\n`));
    assert.match(revoked.stdout, /\(2 revoked\)/);
    const again = await expectCa(['revoke', '--dir', ssl, '--serial', node4Serial], 2);
    assert.match(again.stderr, /already revoked/);
  });

  await t.test('after SIGHUP the old node3 and node4 certificates are refused, the new node3 one is accepted', async () => {
    assert.deepEqual([...crlContents(await readFile(join(ssl, 'crl.pem'))).revokedSerials].sort(), [oldNode3Serial, node4Serial].sort());
    await sighupAndWaitFor(server, /reloaded: revocation list .*crl\.pem in force: 2 revoked/);
    for (const [config, name] of [[oldNode3Config, 'node3'], [node4Config, 'node4']]) {
      const refused = await listExit(config);
      assert.equal(refused.code, 12, `${name}: ${refused.stdout}${refused.stderr}`);
      assert.match(refused.stderr, /refused this client's certificate/);
    }
    assert.match(server.log(), new RegExp(`client "node3" \\(serial 0*${oldNode3Serial}\\): certificate revoked`));
    const accepted = await listExit(newNode3Config);
    assert.equal(accepted.code, 0, `${accepted.stdout}${accepted.stderr}`);
  });

  await t.test('revoke NAME revokes every certificate of the name not yet revoked, wherever its files are', async () => {
    // node1's files stay in the CA folder; node3's new ones were copied to the node and are deleted here.
    await removeFromCaFolder(ssl, 'node3');
    const revoked = await expectCa(['revoke', '--dir', ssl, 'node3'], 0);
    assert.match(revoked.stdout, /^revoked node3 \(serial [0-9A-F]+\)\nwrote \S+crl\.pem \(3 revoked\)/);
    assert.doesNotMatch(revoked.stdout, /note:/, 'this CA recorded everything it issued');
    const none = await expectCa(['revoke', '--dir', ssl, 'node3'], 2);
    assert.match(none.stderr, /no certificate \S+node3\.pem to revoke, and none for node3 in \S+issued is unrevoked/);
  });

  await t.test('revoke --cert takes a certificate of this CA and refuses one of another CA', async () => {
    const other = join(sandbox.root, 'other-ca');
    await expectCa(['init', '--dir', other], 0);
    await expectCa(['client', '--dir', other, 'node1'], 0);
    const foreign = await expectCa(['revoke', '--dir', ssl, '--cert', join(other, 'clients', 'node1.pem')], 2);
    assert.match(foreign.stderr, /other-ca\/clients\/node1\.pem: was not issued by the CA of \S+ssl\/ca\.pem: this CA cannot revoke it/);
    const node1Copy = await copyToNode(ssl, sandbox.root, 'node1');
    const own = await expectCa(['revoke', '--dir', ssl, '--cert', node1Copy.cert], 0);
    assert.match(own.stdout, /^revoked node1 \(serial [0-9A-F]+\); its certificate moved to \S+revoked\/node1-[0-9A-F]+\.pem, its key deleted\n/);
    assert.match(own.stdout, /\(4 revoked\)/);
  });

  await t.test('an unknown serial is refused: the record holds every certificate this CA issued', async () => {
    const unknown = await expectCa(['revoke', '--dir', ssl, '--serial', '0123456789ABCDEF'], 2);
    assert.match(unknown.stderr, /serial 0123456789ABCDEF is not in \S+issued, which holds every client certificate this CA issued and every server certificate since cpsbackup-ca records them: check the serial/);
    const two = await expectCa(['revoke', '--dir', ssl, 'node3', '--serial', node4Serial], 2);
    assert.match(two.stderr, /exactly one of NAME, --serial HEX or --cert FILE/);
  });

  await t.test('a name whose certificates have all expired is issued again without --replace', async () => {
    const day = 86_400_000;
    await issueClientCertificate(ssl, 'node7', { notBefore: new Date(Date.now() - 3 * day), notAfter: new Date(Date.now() - day) });
    await removeFromCaFolder(ssl, 'node7');
    await expectCa(['client', '--dir', ssl, 'node7'], 0);
  });

  await t.test('list shows each certificate with its name, kind, serial, expiry and state', async () => {
    const listed = await expectCa(['list', '--dir', ssl], 0);
    const lines = listed.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^NAME +KIND +SERIAL +EXPIRES +STATUS$/);
    const rows = lines.slice(1).map((line) => line.split(/ {2,}/));
    const stateOf = (serial: string): string | undefined => rows.find((row) => certificateSerial(row[2]) === serial)?.[4];
    assert.equal(stateOf(oldNode3Serial), 'revoked');
    assert.equal(stateOf(node4Serial), 'revoked');
    assert.deepEqual(rows.map((row) => row[0]), ['localhost', 'node1', 'node3', 'node3', 'node4', 'node7', 'node7']);
    assert.deepEqual(rows.map((row) => row[1]), ['server', 'client', 'client', 'client', 'client', 'client', 'client']);
    assert.ok(rows.every((row) => /^20\d\d-\d\d-\d\d \d\d:\d\d UTC$/.test(row[3])), listed.stdout);
    assert.deepEqual(rows.map((row) => row[4]), ['valid', 'revoked', 'revoked', 'revoked', 'revoked', 'expired', 'valid']);
    const node3Only = await expectCa(['list', '--dir', ssl, 'node3'], 0);
    assert.equal(node3Only.stdout.trimEnd().split('\n').length, 3);
  });
});

test('a CA made before the record: revoke NAME still revokes clients/NAME.pem, and says older certificates need --cert or --serial', { skip: opensslMissing }, async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node5', 'node6'] });
  t.after(() => sandbox.destroy());
  const ssl = sandbox.sslDirectory;
  // What an older cpsbackup-ca left: no issued/ folder.
  await rm(join(ssl, 'issued'), { recursive: true });
  const node5Serial = await serialOf(join(ssl, 'clients', 'node5.pem'));
  const node6Serial = await serialOf(join(ssl, 'clients', 'node6.pem'));
  const node6Copy = join(sandbox.root, 'node6.pem');
  await copyFile(join(ssl, 'clients', 'node6.pem'), node6Copy);
  await removeFromCaFolder(ssl, 'node6');

  const revoked = await expectCa(['revoke', '--dir', ssl, 'node5'], 0);
  assert.match(revoked.stdout, new RegExp(`^revoked node5 \\(serial 0*${node5Serial}\\); its certificate moved to`));
  assert.match(revoked.stdout, /note: this CA began its record of issued certificates \(issued\/\) on 20\d\d-\d\d-\d\d \d\d:\d\d UTC; certificates for node5 issued before it are not in it and can be revoked only with --cert FILE or --serial HEX/);

  // node6's files are gone and the record never saw it: revoke NAME cannot find it and says what can.
  const missing = await expectCa(['revoke', '--dir', ssl, 'node6'], 2);
  assert.match(missing.stderr, /no certificate \S+node6\.pem to revoke.*can be revoked only with --cert FILE or --serial HEX/);
  const byFile = await expectCa(['revoke', '--dir', ssl, '--cert', node6Copy], 0);
  assert.match(byFile.stdout, new RegExp(`^revoked node6 \\(serial 0*${node6Serial}\\)\n`));
  // A serial with no certificate anywhere: revoked as given, since the record cannot vouch for it.
  const bare = await expectCa(['revoke', '--dir', ssl, '--serial', '0A:BC:DE'], 0);
  assert.match(bare.stdout, /^revoked a certificate not in the record \(serial 0ABCDE\) \(revoked as given: check it is the serial you meant\)\n/);
  assert.deepEqual([...crlContents(await readFile(join(ssl, 'crl.pem'))).revokedSerials].sort(), [node5Serial, node6Serial, '0ABCDE'].sort());

  const listed = await expectCa(['list', '--dir', ssl], 0);
  assert.match(listed.stdout, /^\?  +\?  +0ABCDE +\? +revoked \(not in the record: issued before it began\)$/m);
  assert.match(listed.stdout, /^node5 +client +[0-9A-F]+ +20\d\d-\S+ \S+ UTC +revoked$/m);
  assert.match(listed.stdout, /\nnote: this CA began its record/);
});

test('a revocation cut short after its index was written is completed by the next revoke, not refused as done', { skip: opensslMissing }, async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node7'] });
  t.after(() => sandbox.destroy());
  const ssl = sandbox.sslDirectory;
  const copy = join(sandbox.root, 'node7.pem');
  await copyFile(join(ssl, 'clients', 'node7.pem'), copy);
  const serial = await serialOf(copy);
  await removeFromCaFolder(ssl, 'node7');
  // What `revoke` leaves when openssl fails or the command is cut short between its two writes.
  await expectCa(['crl', '--dir', ssl], 0);
  await new Promise((resolveWait) => setTimeout(resolveWait, 20));
  await addRevocations(ssl, [{ serial, commonName: 'node7', notAfter: new Date(new X509Certificate(await readFile(copy)).validTo) }]);
  assert.equal(crlContents(await readFile(join(ssl, 'crl.pem'))).revokedSerials.has(serial), false, 'the list lags its index');

  const retried = await expectCa(['revoke', '--dir', ssl, '--serial', serial], 0);
  assert.match(retried.stdout, /crl\.pem was older than \S+index\.txt/);
  assert.equal(crlContents(await readFile(join(ssl, 'crl.pem'))).revokedSerials.has(serial), true, 'the server\'s list has it now');
  const done = await expectCa(['revoke', '--dir', ssl, '--cert', copy], 2);
  assert.match(done.stderr, /already revoked: nothing to do/);
});
