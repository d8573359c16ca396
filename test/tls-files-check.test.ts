// What a SIGHUP checks before it takes the server's TLS files: a certificate the nodes would accept is
// taken, also when it was issued by an intermediate CA sent after it in ssl_cert; one they would refuse is not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkServerIdentity } from '../src/server/transport/tls-files-check';
import type { TlsFileSettings } from '../src/common/tls/ca-certificates';
import { removeTree } from './support/remove-tree';

const opensslMissing = spawnSync('openssl', ['version']).status === 0 ? false : 'the openssl CLI is not installed';

/** root → intermediate → leaf, with openssl: cpsbackup-ca itself issues from its root only. */
async function chainIn(folder: string): Promise<void> {
  const openssl = (...args: string[]): void => { execFileSync('openssl', args, { cwd: folder, stdio: 'pipe' }); };
  const key = (name: string): void => openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`);
  await writeFile(join(folder, 'ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n');
  await writeFile(join(folder, 'leaf.ext'), 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost\n');
  key('root');
  openssl('req', '-x509', '-new', '-key', 'root.key', '-subj', '/CN=test root', '-days', '30', '-out', 'root.pem',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  key('intermediate');
  openssl('req', '-new', '-key', 'intermediate.key', '-subj', '/CN=test intermediate', '-out', 'intermediate.csr');
  openssl('x509', '-req', '-in', 'intermediate.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-CAcreateserial', '-days', '30',
    '-extfile', 'ca.ext', '-out', 'intermediate.pem');
  key('leaf');
  openssl('req', '-new', '-key', 'leaf.key', '-subj', '/CN=localhost', '-out', 'leaf.csr');
  openssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'intermediate.pem', '-CAkey', 'intermediate.key', '-CAcreateserial', '-days', '30',
    '-extfile', 'leaf.ext', '-out', 'leaf.pem');
}

test('a certificate issued by an intermediate sent after it in ssl_cert is taken; without the intermediate it is not', { skip: opensslMissing }, async () => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-tls-check-'));
  try {
    await chainIn(folder);
    const [root, intermediate, leaf, key] = await Promise.all(['root.pem', 'intermediate.pem', 'leaf.pem', 'leaf.key'].map((name) => readFile(join(folder, name))));
    const settings: TlsFileSettings = {
      file: join(folder, 'server.conf'), sslCert: join(folder, 'fullchain.pem'), sslKey: join(folder, 'leaf.key'),
      sslCa: join(folder, 'root.pem'), sslCrl: join(folder, 'crl.pem'),
    };
    checkServerIdentity(settings, { ca: root, cert: Buffer.concat([leaf, intermediate]), key });
    assert.throws(() => checkServerIdentity(settings, { ca: root, cert: leaf, key }), /was not issued by the CA of ssl_ca .*root\.pem: the nodes would refuse it/);
    // An intermediate that is not the leaf's issuer does not stand in for it.
    assert.throws(() => checkServerIdentity(settings, { ca: root, cert: Buffer.concat([leaf, root]), key }), /was not issued by the CA of ssl_ca/);
  } finally {
    await removeTree(folder);
  }
});
