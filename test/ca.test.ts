// Proves the CA tool and mutual TLS end to end: certificates made by cpsbackup-ca let a real
// grpc-js server read the client's CN, and every other client (no cert, foreign CA, expired, TLS 1.2) fails.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import http2 from 'node:http2';
import { ConfigError, NotFoundError } from '../src/common/errors';
import { loadServerConfig, type ServerConfig } from '../src/common/config/server-config';
import { loadNodeConfig, type NodeConfig } from '../src/common/config/node-config';
import { channelOptions, clientCredentials } from '../src/common/tls/credentials';
import { listenWithMutualTls, type AcceptedNames, type MutualTlsListener } from '../src/server/transport/mutual-tls-listener';
import { RECEIVE_WINDOW_BYTES } from '../src/server/transport/receive-window';
import { silentLogger } from '../src/common/logger';
import { peerCommonName } from '../src/common/tls/peer';
import { initCertificateAuthority, issueClientCertificate, issueServerCertificate } from '../src/ca/ca';
import { revokeClientCertificate } from '../src/ca/ca-revoke';
import { addRevocations, revokedSerials, writeRevocationList } from '../src/ca/ca-revocation-index';
import { crlContents } from '../src/common/tls/crl-contents';
import { certificateSerial } from '../src/common/tls/certificate-serial';

/** These tests are about TLS: every certificate the CA signed is a registered client here. */
const everyName: AcceptedNames = { current: { lookup: (commonName) => ({ isAccepted: true, record: { name: commonName } }) } };

const cliPath = path.resolve(__dirname, '..', 'src', 'cli', 'cpsbackup-ca.js');
const opensslMissing = spawnSync('openssl', ['version']).status === 0 ? false : 'the openssl CLI is not installed';

// A trivial unary service whose handler answers with the CN the server verified.
const whoAmIService: grpc.ServiceDefinition = {
  whoAmI: {
    path: '/cpsbackup.test.WhoAmI/WhoAmI',
    requestStream: false,
    responseStream: false,
    requestSerialize: (value: Buffer) => value,
    requestDeserialize: (bytes: Buffer) => bytes,
    responseSerialize: (value: Buffer) => value,
    responseDeserialize: (bytes: Buffer) => bytes,
    originalName: 'whoAmI',
  },
};
const WhoAmIClient = grpc.makeGenericClientConstructor(whoAmIService, 'WhoAmI');

let root = '';
let sslFolder = '';
let server: grpc.Server | undefined;
let listener: MutualTlsListener | undefined;
let serverConfig: ServerConfig;
let port = 0;

function writeNodeConfig(name: string, lines: string[]): NodeConfig {
  const file = path.join(root, 'backup', `${name}.conf`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return loadNodeConfig(file);
}

function nodeConfigFor(clientName: string, extra: string[] = [], caFolder = sslFolder): NodeConfig {
  return writeNodeConfig(`node-${clientName}-${extra.length}-${path.basename(caFolder)}`, [
    'server = 127.0.0.1', `port = ${port}`, ...extra,
    `ssl_cert = ${path.join(caFolder, 'clients', `${clientName}.pem`)}`,
    `ssl_key = ${path.join(caFolder, 'clients', `${clientName}.key`)}`,
    'ssl_ca = ../ssl/ca.pem',
  ]);
}

function callWhoAmI(credentials: grpc.ChannelCredentials, options: grpc.ChannelOptions = {}): Promise<string> {
  const client = new WhoAmIClient(`127.0.0.1:${port}`, credentials, options);
  return new Promise<string>((resolve, reject) => {
    // The deadline only bounds a hang; nothing asserts on time.
    client.makeUnaryRequest('/cpsbackup.test.WhoAmI/WhoAmI', (value: Buffer) => value, (bytes: Buffer) => bytes,
      Buffer.alloc(0), { deadline: Date.now() + 20000 }, (error, response) => {
        if (error) reject(error);
        else resolve(response?.toString('utf8') ?? '');
      });
  }).finally(() => client.close());
}

function rejectedAtHandshake(error: unknown): boolean {
  const code = (error as grpc.ServiceError).code;
  console.log(`  refused: ${grpc.status[code]}: ${(error as Error).message}`);
  assert.equal(code, grpc.status.UNAVAILABLE);
  return true;
}

before(async () => {
  if (opensslMissing) return;
  root = mkdtempSync(path.join(os.tmpdir(), 'cpsbackup-ca-test-'));
  sslFolder = path.join(root, 'ssl');
  await initCertificateAuthority(sslFolder, { commonName: 'cpsbackup test CA' });
  await issueServerCertificate(sslFolder, 'backup.test', { hosts: ['::1'] });
  await issueClientCertificate(sslFolder, 'node1');
  await issueClientCertificate(sslFolder, 'expired', {
    notBefore: new Date(Date.now() - 10 * 24 * 3600 * 1000),
    notAfter: new Date(Date.now() - 24 * 3600 * 1000),
  });
  // Same client name, issued by a CA the server does not trust.
  await initCertificateAuthority(path.join(root, 'other-ssl'));
  await issueClientCertificate(path.join(root, 'other-ssl'), 'node1');

  const backup = path.join(root, 'backup');
  mkdirSync(path.join(backup, 'clients'), { recursive: true });
  writeFileSync(path.join(backup, 'server.conf'),
    'port = 0\ndirectory = store\nssl_cert = ../ssl/server.pem\nssl_key = ../ssl/server.key\nssl_ca = ../ssl/ca.pem\n');
  serverConfig = loadServerConfig(path.join(backup, 'server.conf'));

  const started = new grpc.Server();
  started.addService(whoAmIService, {
    whoAmI: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      callback(null, Buffer.from(peerCommonName(call) ?? '(none)'));
    },
  });
  // The server's own listener: node:tls verifies, grpc-js gets only verified connections.
  listener = await listenWithMutualTls(started, serverConfig, silentLogger, everyName);
  port = listener.port;
  server = started;
});

after(() => {
  listener?.close();
  server?.forceShutdown();
  if (root !== '') rmSync(root, { recursive: true, force: true });
});

test('the CA writes keys 0600 and refuses to overwrite or to issue bad names', { skip: opensslMissing }, async () => {
  for (const key of ['ca.key', 'server.key', 'clients/node1.key']) {
    assert.equal(statSync(path.join(sslFolder, key)).mode & 0o777, 0o600, key);
  }
  const caBefore = readFileSync(path.join(sslFolder, 'ca.pem'));
  await assert.rejects(initCertificateAuthority(sslFolder), ConfigError);
  assert.deepEqual(readFileSync(path.join(sslFolder, 'ca.pem')), caBefore);
  await assert.rejects(issueClientCertificate(sslFolder, 'node1'), /already exists; refusing to overwrite/);
  await assert.rejects(issueClientCertificate(sslFolder, '../escape'), /not a valid client name/);
  await assert.rejects(issueServerCertificate(sslFolder, 'bad name'), ConfigError);
  await assert.rejects(issueClientCertificate(path.join(root, 'no-ca'), 'node1'), NotFoundError);
  assert.ok(!existsSync(path.join(root, 'no-ca')));
});

test('a client with a certificate from our CA connects; the server reads its CN', { skip: opensslMissing }, async () => {
  const config = nodeConfigFor('node1');
  assert.equal(await callWhoAmI(clientCredentials(config), channelOptions(config)), 'node1');
});

test('server_name is the name verified on the server certificate', { skip: opensslMissing }, async () => {
  const named = nodeConfigFor('node1', ['server_name = backup.test']);
  assert.equal(await callWhoAmI(clientCredentials(named), channelOptions(named)), 'node1');
  const misnamed = nodeConfigFor('node1', ['server_name = elsewhere.test']);
  await assert.rejects(callWhoAmI(clientCredentials(misnamed), channelOptions(misnamed)), rejectedAtHandshake);
});

test('a client without a certificate is refused', { skip: opensslMissing }, async () => {
  const credentials = grpc.credentials.createSsl(readFileSync(path.join(sslFolder, 'ca.pem')));
  await assert.rejects(callWhoAmI(credentials), rejectedAtHandshake);
});

test('a client with a certificate from another CA is refused', { skip: opensslMissing }, async () => {
  const config = nodeConfigFor('node1', [], path.join(root, 'other-ssl'));
  await assert.rejects(callWhoAmI(clientCredentials(config), channelOptions(config)), rejectedAtHandshake);
});

test('a client with an expired certificate is refused', { skip: opensslMissing }, async () => {
  const config = nodeConfigFor('expired');
  await assert.rejects(callWhoAmI(clientCredentials(config), channelOptions(config)), rejectedAtHandshake);
});

interface HandshakeOutcome {
  readonly protocol: string;
  /** 'http2' when the server went on to speak HTTP/2, 'closed' when it hung up first. */
  readonly outcome: 'http2' | 'closed';
}

/** A raw TLS client, to see what grpc-js hides: the protocol version and when the server hangs up. */
function tlsHandshake(caFolder: string, clientName: string, maxVersion: tls.SecureVersion = 'TLSv1.3'): Promise<HandshakeOutcome> {
  return new Promise<HandshakeOutcome>((resolve, reject) => {
    let protocol = 'none';
    const socket = tls.connect({
      host: '127.0.0.1', port, servername: 'localhost', ALPNProtocols: ['h2'], maxVersion,
      ca: readFileSync(path.join(sslFolder, 'ca.pem')),
      cert: readFileSync(path.join(caFolder, 'clients', `${clientName}.pem`)),
      key: readFileSync(path.join(caFolder, 'clients', `${clientName}.key`)),
    }, () => {
      protocol = socket.getProtocol() ?? 'unknown';
    });
    // In TLS 1.3 the server judges the client certificate after the client's side of the
    // handshake is done: an accepted client then receives HTTP/2 SETTINGS, a refused one is
    // disconnected (node's server closes without an alert for a certificate it cannot verify).
    socket.once('data', () => {
      socket.destroy();
      resolve({ protocol, outcome: 'http2' });
    });
    socket.once('close', () => resolve({ protocol, outcome: 'closed' }));
    socket.on('error', (error) => {
      socket.destroy();
      reject(error);
    });
  });
}

test('the server speaks TLS 1.3 only', { skip: opensslMissing }, async () => {
  const accepted = await tlsHandshake(sslFolder, 'node1');
  console.log(`  negotiated: ${accepted.protocol}`);
  assert.deepEqual(accepted, { protocol: 'TLSv1.3', outcome: 'http2' });
  await assert.rejects(tlsHandshake(sslFolder, 'node1', 'TLSv1.2'), /protocol version/i);
});

test('the server opens a 2 MiB HTTP/2 receive window per connection and per stream (not the 64 KiB default)', { skip: opensslMissing }, async () => {
  // A 64 KiB window let an upload move only 64 KiB per turn of the server's busy event loop.
  const session = http2.connect(`https://127.0.0.1:${port}`, {
    createConnection: () => tls.connect({
      host: '127.0.0.1', port, servername: 'localhost', ALPNProtocols: ['h2'],
      ca: readFileSync(path.join(sslFolder, 'ca.pem')),
      cert: readFileSync(path.join(sslFolder, 'clients', 'node1.pem')),
      key: readFileSync(path.join(sslFolder, 'clients', 'node1.key')),
    }),
  });
  try {
    // Node's first SETTINGS carry the defaults; the widened ones follow at once, the connection's
    // WINDOW_UPDATE on the server's next write: ping until both are here (bounded, not timed).
    await new Promise<void>((resolve, reject) => {
      session.once('error', reject);
      session.once('connect', resolve);
    });
    const isWidened = (): boolean => session.remoteSettings.initialWindowSize === RECEIVE_WINDOW_BYTES && session.state.remoteWindowSize === RECEIVE_WINDOW_BYTES;
    for (let round = 0; round < 200 && !isWidened(); round++) {
      await new Promise<void>((resolve, reject) => session.ping((error) => (error ? reject(error) : resolve())));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(session.remoteSettings.initialWindowSize, RECEIVE_WINDOW_BYTES);
    assert.equal(session.state.remoteWindowSize, RECEIVE_WINDOW_BYTES);
  } finally {
    session.destroy();
  }
});

test('foreign and expired certificates are refused at the TLS layer, before any HTTP/2', { skip: opensslMissing }, async () => {
  assert.deepEqual(await tlsHandshake(path.join(root, 'other-ssl'), 'node1'), { protocol: 'TLSv1.3', outcome: 'closed' });
  assert.deepEqual(await tlsHandshake(sslFolder, 'expired'), { protocol: 'TLSv1.3', outcome: 'closed' });
});

test('cpsbackup-ca CLI: init, server, client, and exit 2 on user errors', { skip: opensslMissing }, () => {
  const folder = path.join(root, 'cli-ssl');
  const run = (...args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8' });

  const init = run('init', '--dir', folder);
  assert.equal(init.status, 0, init.stderr);
  assert.match(init.stdout, new RegExp(`wrote ${path.join(folder, 'ca.key')}`));
  const serverRun = run('server', '--dir', folder, '--name', 'backup.lan', '--host', '10.0.0.5');
  assert.equal(serverRun.status, 0, serverRun.stderr);
  assert.match(serverRun.stdout, new RegExp(`ssl_cert = ${path.join(folder, 'server.pem')}`));
  const client = run('client', '--dir', folder, 'node7');
  assert.equal(client.status, 0, client.stderr);
  assert.match(client.stdout, /ssl_peer_cn = node7/);
  assert.match(client.stdout, new RegExp(`ssl_key = ${path.join(folder, 'clients', 'node7.key')}`));
  const text = spawnSync('openssl', ['x509', '-in', path.join(folder, 'server.pem'), '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' });
  assert.match(text.stdout, /DNS:backup\.lan, DNS:localhost, IP Address:127\.0\.0\.1, IP Address:10\.0\.0\.5/);

  for (const args of [['init', '--dir', folder], ['client', '--dir', folder, '.hidden'], ['client', 'node8'],
    ['client', '--dir', path.join(root, 'nowhere'), 'node8'], ['server', '--dir', folder, '--name', 'x', '--days', 'soon'], ['frobnicate']]) {
    const result = run(...args);
    assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, /^cpsbackup-ca: /);
  }
});

test('revoke: crl.pem names the serial, the name can be issued again with a new serial', { skip: opensslMissing }, async () => {
  const folder = path.join(root, 'revoke-ssl');
  await initCertificateAuthority(folder);
  const first = await issueClientCertificate(folder, 'node9');
  const firstSerial = certificateSerial(new X509Certificate(readFileSync(first.cert)).serialNumber);
  const revoked = await revokeClientCertificate(folder, 'node9');
  assert.equal(revoked.revoked.length, 1);
  assert.equal(certificateSerial(revoked.revoked[0].serial), firstSerial);
  assert.ok(!existsSync(first.cert) && !existsSync(first.key), 'the name is free, the revoked key gone');
  assert.ok(existsSync(revoked.revoked[0].movedTo ?? ''));
  const listed = crlContents(readFileSync(revoked.crl));
  assert.deepEqual([...listed.revokedSerials], [firstSerial]);
  assert.ok(listed.nextUpdate !== undefined && listed.nextUpdate.getTime() > Date.now() + 3000 * 24 * 3600 * 1000);
  const second = await issueClientCertificate(folder, 'node9');
  const secondSerial = certificateSerial(new X509Certificate(readFileSync(second.cert)).serialNumber);
  assert.notEqual(secondSerial, firstSerial);
  await revokeClientCertificate(folder, 'node9');
  assert.deepEqual([...crlContents(readFileSync(revoked.crl)).revokedSerials].sort(), [firstSerial, secondSerial].sort());
  await assert.rejects(revokeClientCertificate(folder, 'node9'), NotFoundError);
});

test('address = localhost listens on every address the name resolves to, on one port', { skip: opensslMissing }, async () => {
  const file = path.join(root, 'backup', 'server-localhost.conf');
  writeFileSync(file, 'address = localhost\nport = 0\ndirectory = store\nssl_cert = ../ssl/server.pem\nssl_key = ../ssl/server.key\nssl_ca = ../ssl/ca.pem\n');
  const named = new grpc.Server();
  named.addService(whoAmIService, {
    whoAmI: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, Buffer.from(peerCommonName(call) ?? '(none)')),
  });
  const namedListener = await listenWithMutualTls(named, loadServerConfig(file), silentLogger, everyName);
  try {
    const resolved = await lookup('localhost', { all: true });
    for (const { address } of resolved) {
      const host = address.includes(':') ? `[${address}]` : address;
      const config = writeNodeConfig(`localhost-${address.replace(/[^0-9a-f]/gi, '-')}`, [
        `server = ${address}`, `port = ${namedListener.port}`, 'server_name = localhost',
        `ssl_cert = ${path.join(sslFolder, 'clients', 'node1.pem')}`, `ssl_key = ${path.join(sslFolder, 'clients', 'node1.key')}`, 'ssl_ca = ../ssl/ca.pem',
      ]);
      const client = new WhoAmIClient(`${host}:${namedListener.port}`, clientCredentials(config), channelOptions(config));
      const answer = await new Promise<string>((resolve, reject) => {
        client.makeUnaryRequest('/cpsbackup.test.WhoAmI/WhoAmI', (value: Buffer) => value, (bytes: Buffer) => bytes, Buffer.alloc(0),
          { deadline: Date.now() + 20000 }, (error, response) => (error ? reject(error) : resolve(response?.toString('utf8') ?? '')));
      }).finally(() => client.close());
      assert.equal(answer, 'node1', `through ${address}`);
    }
  } finally {
    namedListener.close();
    named.forceShutdown();
  }
});

test('a serial of odd hex length (as a spelling without leading zeros gave one in sixteen) goes into the index whole-byte, and openssl writes the list', { skip: opensslMissing }, async (t) => {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'cpsbackup-ca-odd-'));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  await initCertificateAuthority(folder);
  await addRevocations(folder, [{ serial: certificateSerial('abc'), commonName: 'node1', notAfter: undefined }]);
  await writeRevocationList(folder);
  assert.equal(readFileSync(path.join(folder, 'revoked', 'index.txt'), 'utf8').split('\t')[3], '0ABC', 'whole bytes in the index');
  // The list, the index and the server's check all read it back in the one spelling.
  assert.deepEqual([...crlContents(readFileSync(path.join(folder, 'crl.pem'))).revokedSerials], ['0ABC']);
  assert.deepEqual(await revokedSerials(folder), ['0ABC']);
});

// Regression (one spelling of a serial): Node's serialNumber and what openssl prints must read as one.
test('a real certificate with a leading zero nibble: Node\'s serialNumber, openssl x509 -serial and -text all read as one serial', { skip: opensslMissing }, (t) => {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'cpsbackup-serial-'));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  const certificate = path.join(folder, 'c.pem');
  // Ten bytes, so that -text prints them with colons rather than as a number; the first nibble is a zero.
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(folder, 'k.pem'),
    '-out', certificate, '-subj', '/CN=serial-test', '-days', '1', '-set_serial', '0x0A1B2C3D4E5F60718293'], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  const expected = '0A1B2C3D4E5F60718293';
  assert.equal(certificateSerial(new X509Certificate(readFileSync(certificate)).serialNumber), expected);
  const printed = spawnSync('openssl', ['x509', '-in', certificate, '-noout', '-serial'], { encoding: 'utf8' }).stdout;
  assert.equal(certificateSerial(printed), expected, printed);
  const text = spawnSync('openssl', ['x509', '-in', certificate, '-noout', '-text'], { encoding: 'utf8' }).stdout;
  const colons = /Serial Number:\s*\n\s*([0-9a-f:]+)/.exec(text)?.[1];
  assert.ok(colons !== undefined, text);
  assert.equal(certificateSerial(colons), expected, colons);
});
