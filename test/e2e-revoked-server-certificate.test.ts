// Guards a gap a review found: a revoked server certificate stayed trusted by every node, since nodes
// read no revocation list. Proves through the real CLIs and a real server: a node given the CA's list
// (node.conf ssl_crl) connects while the server's certificate is not on it, refuses the server once it
// is (exit 12, naming the server certificate as revoked, not "cannot reach"), a node without ssl_crl is
// unchanged, and an ssl_crl that holds no list, or another CA's, stops the run as a config error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Sandbox, runNode } from './support/sandbox';
import { initCertificateAuthority } from '../src/ca/ca';
import { renewRevocationList } from '../src/ca/ca-revoke';
import { certificateSerial } from '../src/common/tls/certificate-serial';
import { nodeRevocationList } from '../src/common/tls/node-revocation-list';
import { ConfigError } from '../src/common/errors';

const caCli = resolve(__dirname, '..', 'src', 'cli', 'cpsbackup-ca.js');
const opensslMissing = spawnSync('openssl', ['version']).status === 0 ? false : 'the openssl CLI is not installed';

test('a node with ssl_crl refuses a server whose certificate is revoked, and says so', { skip: opensslMissing, timeout: 300_000 }, async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1'] });
  t.after(() => sandbox.destroy());
  const ssl = sandbox.sslDirectory;
  const ca = async (args: string[]): Promise<string> => {
    const result = await runNode(caCli, [...args, '--dir', ssl], 60_000);
    assert.equal(result.code, 0, `cpsbackup-ca ${args.join(' ')}:\n${result.stdout}${result.stderr}`);
    return result.stdout;
  };
  await ca(['crl']);
  const server = await sandbox.startServer();
  // The node's own copy of the CA's list, as an operator would deploy it.
  const nodeCrl = join(sandbox.root, 'node1-crl.pem');
  await copyFile(join(ssl, 'crl.pem'), nodeCrl);
  const checking = await sandbox.writeNodeConfig('node1', [`ssl_crl = ${nodeCrl}`]);
  const unchecked = join(sandbox.root, 'node1-unchecked.conf');
  await writeFile(unchecked, (await readFile(checking, 'utf8')).replace(/^ssl_crl = .*\n/m, ''));
  const list = (config: string) => sandbox.runClient(['-c', config, '-l']);

  const before = await list(checking);
  assert.equal(before.code, 0, `a list without the server's certificate lets the node connect:\n${before.stdout}${before.stderr}`);

  const serverSerial = certificateSerial(new X509Certificate(await readFile(join(ssl, 'server.pem'))).serialNumber);
  await ca(['revoke', '--serial', serverSerial]);
  await copyFile(join(ssl, 'crl.pem'), nodeCrl);
  const refused = await list(checking);
  assert.equal(refused.code, 12, `${refused.stdout}${refused.stderr}`);
  assert.match(refused.stderr, new RegExp(`^cpsbackup: the server at 127\\.0\\.0\\.1:${server.port} presented a revoked certificate `
    + `\\(CN localhost, serial 0*${serverSerial}, listed in ssl_crl ${nodeCrl.replace(/[.]/g, '\\.')}\\): this node will not talk to it; `
    + 'the server\'s operator must install a new server certificate$', 'm'));
  assert.equal(refused.stdout, '');

  // Without ssl_crl nothing changes: the node does not look for a list of its own accord.
  const withoutList = await list(unchecked);
  assert.equal(withoutList.code, 0, `${withoutList.stdout}${withoutList.stderr}`);

  // A list past its nextUpdate would make OpenSSL refuse every server as "cannot reach": a config error
  // naming the file and the date instead (checked here at a time past the CA's list, as a node would meet it).
  const settings = { file: checking, sslCert: join(ssl, 'clients', 'node1.pem'), sslKey: join(ssl, 'clients', 'node1.key'), sslCa: join(ssl, 'ca.pem'), sslCrl: nodeCrl };
  assert.ok(nodeRevocationList(settings, 9)?.length === 1, 'the current list is taken');
  assert.throws(() => nodeRevocationList(settings, 9, Date.now() + 20 * 365 * 86_400_000),
    (error: unknown) => error instanceof ConfigError && /^ssl_crl: \S+node1-crl\.pem expired on 20\d\d-[\d-]+T[\d:.]+Z, so OpenSSL would refuse every server: copy the CA's current crl\.pem there/.test(error.problem)
      && error.line === 9);

  await writeFile(nodeCrl, 'not a list\n');
  const broken = await list(checking);
  assert.equal(broken.code, 2, `${broken.stdout}${broken.stderr}`);
  assert.match(broken.stderr, /^cpsbackup: \S+node1\.conf:\d+: ssl_crl: \S+node1-crl\.pem holds no PEM revocation list/);

  // Another CA's list would make OpenSSL refuse every server: refused at load, like the server's own.
  const otherCa = join(sandbox.root, 'other-ca');
  await initCertificateAuthority(otherCa);
  await copyFile((await renewRevocationList(otherCa)).crl, nodeCrl);
  const foreign = await list(checking);
  assert.equal(foreign.code, 2, `${foreign.stdout}${foreign.stderr}`);
  assert.match(foreign.stderr, /^cpsbackup: \S+node1\.conf:\d+: ssl_crl: \S+node1-crl\.pem (holds no list of|was not issued by) the CA of ssl_ca/);
});
