// Guards a gap a review found: `cpsbackup-ca server` kept no copy of the server certificate in issued/,
// so `list` did not show it and `revoke --serial` of it revoked "a certificate not in the record".
// Proves through the real CLI: a server certificate is recorded (kind server) and listed; `revoke NAME`
// of a client with the server's CN leaves the server's certificate alone; --serial and --cert revoke it,
// name it, move server.pem aside so a new one can be issued; and one issued before the record (its
// copy only in server.pem) is still found by its serial.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runNode, type CommandResult } from './support/sandbox';
import { crlContents } from '../src/common/tls/crl-contents';
import { certificateSerial, type CertificateSerial } from '../src/common/tls/certificate-serial';

const caCli = resolve(__dirname, '..', 'src', 'cli', 'cpsbackup-ca.js');
const opensslMissing = spawnSync('openssl', ['version']).status === 0 ? false : 'the openssl CLI is not installed';

async function expectCa(args: string[], code = 0): Promise<CommandResult> {
  const result = await runNode(caCli, args, 120_000);
  assert.equal(result.code, code, `cpsbackup-ca ${args.join(' ')}:\n${result.stdout}${result.stderr}`);
  return result;
}

async function serialOf(file: string): Promise<CertificateSerial> {
  return certificateSerial(new X509Certificate(await readFile(file)).serialNumber);
}

/** `list` as rows of NAME, KIND, SERIAL (certificateSerial), STATUS. */
async function listed(folder: string): Promise<string[][]> {
  const lines = (await expectCa(['list', '--dir', folder])).stdout.trimEnd().split('\n');
  assert.match(lines[0], /^NAME +KIND +SERIAL +EXPIRES +STATUS$/);
  return lines.slice(1).map((line) => line.split(/ {2,}/)).map((row) => [row[0], row[1], certificateSerial(row[2]), row[4]]);
}

test('server certificates are recorded, listed and revocable by serial or file, never by a client\'s name', { skip: opensslMissing, timeout: 300_000 }, async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-ca-server-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  await expectCa(['init', '--dir', folder]);
  const issued = await expectCa(['server', '--dir', folder, '--name', 'backup.lan']);
  const serverSerial = await serialOf(join(folder, 'server.pem'));
  assert.deepEqual((await readdir(join(folder, 'issued'))).map((name) => certificateSerial(name.slice('backup.lan-'.length, -'.pem'.length))),
    [serverSerial], 'issued/ holds a copy of the server certificate');
  assert.match(issued.stdout, new RegExp(`^wrote \\S+server\\.pem \\(serial 0*${serverSerial}\\)$`, 'm'));
  // A client may carry the server's CN: `revoke NAME` is about clients and must not take the server down.
  await expectCa(['client', '--dir', folder, 'backup.lan']);
  const clientSerial = await serialOf(join(folder, 'clients', 'backup.lan.pem'));
  assert.deepEqual(await listed(folder), [['backup.lan', 'server', serverSerial, 'valid'], ['backup.lan', 'client', clientSerial, 'valid']]);

  const byName = await expectCa(['revoke', '--dir', folder, 'backup.lan']);
  assert.match(byName.stdout, new RegExp(`^revoked backup\\.lan \\(serial 0*${clientSerial}\\); its certificate moved to`));
  assert.ok(existsSync(join(folder, 'server.pem')) && existsSync(join(folder, 'server.key')), 'the server\'s files stay');
  assert.deepEqual(await listed(folder), [['backup.lan', 'server', serverSerial, 'valid'], ['backup.lan', 'client', clientSerial, 'revoked']]);

  // What the server holds on its own machine, before the CA folder's copy goes.
  const serverCopy = join(folder, 'server-copy.pem');
  await copyFile(join(folder, 'server.pem'), serverCopy);
  const serverFiles = { cert: await readFile(join(folder, 'server.pem')), key: await readFile(join(folder, 'server.key')) };
  const bySerial = await expectCa(['revoke', '--dir', folder, '--serial', serverSerial]);
  // Regression: server.pem was moved aside and server.key deleted, so a server running from them could
  // not start again (nor take a SIGHUP) until a new one was issued, and nothing said so.
  assert.match(bySerial.stdout, new RegExp(`^revoked the server certificate of backup\\.lan \\(serial ${serverSerial}\\); `
    + `\\S+server\\.pem and its key stay in place, for a server running from them must still start: issue the server a new one with `
    + `cpsbackup-ca server --dir \\S+ --name backup\\.lan \\(it moves the revoked pair aside\\), then restart the server or send it SIGHUP$`, 'm'));
  assert.deepEqual(await readFile(join(folder, 'server.pem')), serverFiles.cert, 'server.pem stays as it was');
  assert.deepEqual(await readFile(join(folder, 'server.key')), serverFiles.key, 'server.key stays as it was');
  // Only nodes given the list (node.conf ssl_crl) check the server's certificate: the operator is told so.
  assert.match(bySerial.stdout, new RegExp(`^on each node: copy it to the ssl_crl path of node\\.conf; a node without ssl_crl goes on trusting `
    + `the server certificate of backup\\.lan \\(serial 0*${serverSerial}, until 20\\d\\d-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC\\) until it expires\\. .*only a new CA`, 'm'));
  assert.doesNotMatch(byName.stdout, /on each node/, 'a client\'s revocation needs no such line');
  assert.ok(crlContents(await readFile(join(folder, 'crl.pem'))).revokedSerials.has(serverSerial), 'crl.pem lists the server certificate');
  assert.deepEqual(await listed(folder), [['backup.lan', 'server', serverSerial, 'revoked'], ['backup.lan', 'client', clientSerial, 'revoked']]);
  const again = await expectCa(['revoke', '--dir', folder, '--cert', serverCopy], 2);
  assert.match(again.stderr, /is already revoked: nothing to do/);

  // A new one can be issued at once: it replaces the revoked pair, moved aside with its key deleted.
  const replaced = await expectCa(['server', '--dir', folder, '--name', 'backup.lan']);
  assert.match(replaced.stdout, new RegExp(`^moved the revoked server certificate to \\S+revoked/backup\\.lan-${serverSerial}\\.pem, its key deleted$`, 'm'));
  assert.deepEqual(await readFile(join(folder, 'revoked', `backup.lan-${serverSerial}.pem`)), serverFiles.cert);
  assert.deepEqual((await readdir(join(folder, 'revoked'))).filter((name) => name.endsWith('.key')), [], 'no key of a revoked certificate is kept');
  const renewedSerial = await serialOf(join(folder, 'server.pem'));
  assert.notEqual(renewedSerial, serverSerial);
  // One in force is never replaced.
  const refused = await expectCa(['server', '--dir', folder, '--name', 'backup.lan'], 2);
  assert.match(refused.stderr, /server\.pem: already exists and is not revoked; refusing to overwrite \(revoke it first/);
  assert.equal(await serialOf(join(folder, 'server.pem')), renewedSerial);
  // --cert revokes it from the server's copy.
  await copyFile(join(folder, 'server.pem'), serverCopy);
  const byFile = await expectCa(['revoke', '--dir', folder, '--cert', serverCopy]);
  assert.match(byFile.stdout, new RegExp(`^revoked the server certificate of backup\\.lan \\(serial 0*${renewedSerial}\\)`));
  assert.ok(crlContents(await readFile(join(folder, 'crl.pem'))).revokedSerials.has(renewedSerial));
});

test('a server certificate issued before the record (only server.pem holds it) is found by its serial', { skip: opensslMissing, timeout: 300_000 }, async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-ca-server-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  await expectCa(['init', '--dir', folder]);
  await expectCa(['server', '--dir', folder, '--name', 'backup.lan']);
  const serverSerial = await serialOf(join(folder, 'server.pem'));
  // What an older cpsbackup-ca left: a complete record of clients, without the server's copy.
  for (const name of await readdir(join(folder, 'issued'))) await rm(join(folder, 'issued', name));
  const revoked = await expectCa(['revoke', '--dir', folder, '--serial', serverSerial]);
  assert.match(revoked.stdout, new RegExp(`^revoked the server certificate of backup\\.lan \\(serial ${serverSerial}\\); \\S+server\\.pem and its key stay in place`));
  assert.deepEqual(await listed(folder), [['backup.lan', 'server', serverSerial, 'revoked']]);
  const unknown = await expectCa(['revoke', '--dir', folder, '--serial', '0ABCDE'], 2);
  assert.match(unknown.stderr, /serial 0ABCDE is not in \S+issued, which holds every client certificate this CA issued and every server certificate since cpsbackup-ca records them: check the serial \(an older server certificate: revoke --cert FILE\)/);
});

test('a server.pem that cannot be parsed does not stop a client\'s revocation halfway', { skip: opensslMissing, timeout: 300_000 }, async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-ca-server-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  await expectCa(['init', '--dir', folder]);
  await expectCa(['client', 'node1', '--dir', folder]);
  await writeFile(join(folder, 'server.pem'), '');
  const serial = await serialOf(join(folder, 'clients', 'node1.pem'));
  const revoked = await expectCa(['revoke', 'node1', '--dir', folder]);
  assert.match(revoked.stdout, /revoked/);
  assert.equal(existsSync(join(folder, 'clients', 'node1.key')), false, 'the revoked certificate\'s key is deleted');
  assert.equal(existsSync(join(folder, 'clients', 'node1.pem')), false, 'its copy is moved aside');
  assert.ok(crlContents(await readFile(join(folder, 'crl.pem'))).revokedSerials.has(serial), 'the list names it');
  await expectCa(['client', 'node1', '--dir', folder]);
});

// A certificate issued for longer than its CA lasts stops working with the CA: said when it is issued.
test('a certificate that outlives its CA is issued with a note saying so; one within the CA\'s life without', { skip: opensslMissing, timeout: 120_000 }, async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-ca-lifetime-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  await expectCa(['init', '--dir', folder, '--days', '30']);
  const longer = await expectCa(['client', 'node1', '--dir', folder]);
  assert.match(longer.stdout, /^note: \S+node1\.pem is valid until .* UTC, its CA only until .* UTC: it stops working when the CA ends/m);
  const within = await expectCa(['client', 'node2', '--dir', folder, '--days', '10']);
  assert.doesNotMatch(within.stdout, /^note:/m);
  const server = await expectCa(['server', '--dir', folder, '--name', 'backup.lan']);
  assert.match(server.stdout, /^note: \S+server\.pem is valid until/m);
});
