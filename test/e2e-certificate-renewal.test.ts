// A server certificate renewed while the server runs: SIGHUP puts it in force on the gRPC port and the
// status port for the next handshakes, and a renewal that cannot work (files missing, a key that is not
// the certificate's, an expired certificate, a damaged CA, a new CA with the old CA's revocation list)
// changes nothing and says why, while a revocation in the same SIGHUP still takes effect. Before, only a
// restart read the certificate, so a renewal meant stopping every node's backups.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import tls from 'node:tls';
import { Sandbox } from './support/sandbox';
import { sighupAndWaitFor } from './support/fault-tools';
import { initCertificateAuthority, issueClientCertificate, issueServerCertificate } from '../src/ca/ca';
import { revokeClientCertificate } from '../src/ca/ca-revoke';
import { certificateSerial } from '../src/common/tls/certificate-serial';

const opensslMissing = spawnSync('openssl', ['version']).status === 0 ? false : 'the openssl CLI is not installed';

test('SIGHUP puts a renewed server certificate in force on both ports; an unusable one leaves the previous in force', { skip: opensslMissing }, async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1', 'node2'], serverLines: ['status_ssl = 1'] });
  t.after(() => sandbox.destroy());
  const ssl = sandbox.sslDirectory;
  const server = await sandbox.startServer();
  const statusPort = Number(/status on https:\/\/127\.0\.0\.1:(\d+)/.exec(server.log())?.[1]);
  assert.ok(statusPort > 0, server.log());
  const node1 = await sandbox.writeNodeConfig('node1', []);
  const ca = await readFile(join(ssl, 'ca.pem'));
  const clientCert = await readFile(join(ssl, 'clients', 'node1.pem'));
  const clientKey = await readFile(join(ssl, 'clients', 'node1.key'));

  /** The serial of the certificate a new TLS connection to `port` is shown (node1's certificate offered, as a node does). */
  const serialOn = (port: number): Promise<string> => new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca, cert: clientCert, key: clientKey }, () => {
      const serial = certificateSerial(socket.getPeerCertificate().serialNumber);
      socket.destroy();
      resolve(serial);
    });
    socket.on('error', reject);
  });
  const serialOfFile = async (): Promise<string> => certificateSerial(new X509Certificate(await readFile(join(ssl, 'server.pem'))).serialNumber);
  const expectListWorks = async (): Promise<void> => {
    const result = await sandbox.runClient(['-c', node1, '-l']);
    assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
  };
  const expectInForce = async (serial: string): Promise<void> => {
    assert.equal(await serialOn(server.port), serial, 'gRPC port');
    assert.equal(await serialOn(statusPort), serial, 'status port');
    await expectListWorks();
  };

  const first = await serialOfFile();
  await expectInForce(first);

  await t.test('a renewed certificate is in force from the SIGHUP on, on both ports', async () => {
    await rename(join(ssl, 'server.pem'), join(ssl, 'server.pem.old'));
    await rename(join(ssl, 'server.key'), join(ssl, 'server.key.old'));
    await issueServerCertificate(ssl, 'localhost');
    const renewed = await serialOfFile();
    assert.notEqual(renewed, first);
    await sighupAndWaitFor(server, new RegExp(`reloaded: server certificate .*server\\.pem \\(serial ${renewed}, valid until 20\\d\\d-`));
    await expectInForce(renewed);
  });

  const renewed = await serialOfFile();
  const unusable: { name: string; damage: () => Promise<void>; reason: RegExp }[] = [
    { name: 'a key that is not the certificate\'s', damage: () => copyFile(join(ssl, 'clients', 'node1.key'), join(ssl, 'server.key')), reason: /ssl_cert \S+server\.pem and ssl_key \S+server\.key do not make a usable pair \(.*key values mismatch/ },
    {
      name: 'an expired certificate',
      damage: async () => {
        await issueClientCertificate(ssl, 'expired', { notBefore: new Date(Date.now() - 3 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });
        await copyFile(join(ssl, 'clients', 'expired.pem'), join(ssl, 'server.pem'));
        await copyFile(join(ssl, 'clients', 'expired.key'), join(ssl, 'server.key'));
      },
      reason: /server\.pem expired on 20\d\d-/,
    },
    { name: 'a missing certificate file', damage: () => rename(join(ssl, 'server.pem'), join(ssl, 'server.pem.gone')), reason: /server\.pem/ },
  ];
  const damagedCa = async (): Promise<void> => {
    await writeFile(join(ssl, 'ca.pem'), (await readFile(join(ssl, 'ca.pem'))).subarray(0, 300));
  };
  unusable.push({ name: 'a damaged CA file', damage: damagedCa, reason: /ssl_ca: \S+ca\.pem holds no PEM certificate/ });
  for (const { name, damage, reason } of unusable) {
    await t.test(`${name}: the previous certificate stays in force and the log says why`, async () => {
      const good = { pem: await readFile(join(ssl, 'server.pem')), key: await readFile(join(ssl, 'server.key')), ca: await readFile(join(ssl, 'ca.pem')) };
      await damage();
      await sighupAndWaitFor(server, /server certificate, key and CA not reloaded, the previous ones stay in force: /);
      const line = server.log().split('\n').filter((text) => text.includes('server certificate, key and CA not reloaded')).pop() ?? '';
      assert.match(line, reason);
      assert.equal(await serialOn(server.port), renewed, 'gRPC port');
      assert.equal(await serialOn(statusPort), renewed, 'status port');
      // Put back before the node runs: it reads the same ca.pem.
      await writeFile(join(ssl, 'server.pem'), good.pem);
      await writeFile(join(ssl, 'server.key'), good.key);
      await writeFile(join(ssl, 'ca.pem'), good.ca);
      await expectListWorks();
    });
  }

  const node2 = await sandbox.writeNodeConfig('node2', []);
  await t.test('a revocation takes effect on the SIGHUP even when the renewal beside it cannot', async () => {
    await rename(join(ssl, 'server.key'), join(ssl, 'server.key.aside'));
    // node2 keeps its copy (revoke moves the CA folder's aside and deletes the key), as a real node does.
    const node2Files = ['node2.pem', 'node2.key'].map((file) => join(ssl, 'clients', file));
    const copies = await Promise.all(node2Files.map((file) => readFile(file)));
    await revokeClientCertificate(ssl, 'node2');
    await Promise.all(node2Files.map((file, index) => writeFile(file, copies[index])));
    await sighupAndWaitFor(server, /reloaded: revocation list .*crl\.pem in force: 1 revoked/);
    assert.match(server.log(), /server certificate, key and CA not reloaded, the previous ones stay in force: .*server\.key/);
    const refused = await sandbox.runClient(['-c', node2, '-l']);
    assert.equal(refused.code, 12, `${refused.stdout}${refused.stderr}`);
    await rename(join(ssl, 'server.key.aside'), join(ssl, 'server.key'));
    await expectInForce(renewed);
  });

  await t.test("a new CA with the previous CA's revocation list is not taken: every client would be refused", async () => {
    const otherCa = join(sandbox.root, 'other-ca');
    const saved = join(sandbox.root, 'saved-ssl');
    await initCertificateAuthority(otherCa);
    await issueServerCertificate(otherCa, 'localhost');
    await mkdir(saved);
    for (const file of ['ca.pem', 'server.pem', 'server.key']) {
      await copyFile(join(ssl, file), join(saved, `${file}.in-force`));
      await copyFile(join(otherCa, file), join(ssl, file));
    }
    await sighupAndWaitFor(server, /the new CA of \S+ca\.pem is not taken either: it needs a revocation list of its own/);
    assert.match(server.log(), /revocation list not reloaded, the previous one stays in force: .*crl\.pem was not issued by the CA of ssl_ca/);
    assert.equal(await serialOn(server.port), renewed, 'gRPC port');
    assert.equal(await serialOn(statusPort), renewed, 'status port');
    for (const file of ['ca.pem', 'server.pem', 'server.key']) await copyFile(join(saved, `${file}.in-force`), join(ssl, file));
    await expectListWorks();
  });
});
