// A server started with a client certificate as its ssl_cert (or a node given the server's) ran, and
// every peer refused it with "unsuitable certificate purpose", a message naming no file; the server
// logged nothing. Refused when the configuration is read, naming the line and what to give instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkTlsFiles, type TlsFiles } from '../src/common/tls/tls-files';
import { ConfigError } from '../src/common/errors';
import { runNode } from './support/sandbox';

const caCli = resolve(__dirname, '..', 'src', 'cli', 'cpsbackup-ca.js');

function files(cert: string, key: string, ca: string): TlsFiles {
  const line = (key: string, path: string, number: number) => ({ entry: { key, value: path, line: number }, path });
  return { cert: line('ssl_cert', cert, 3), key: line('ssl_key', key, 4), ca: line('ssl_ca', ca, 5) } as unknown as TlsFiles;
}

test('a certificate whose extended key usage is for the other side is refused, naming the line; each side takes its own', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-tls-purpose-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const ssl = join(folder, 'ssl');
  for (const args of [['init', '--dir', ssl], ['server', '--dir', ssl, '--name', 'localhost'], ['client', '--dir', ssl, 'node1']]) {
    const made = await runNode(caCli, args, 60_000);
    assert.equal(made.code, 0, made.stderr);
  }
  const ca = join(ssl, 'ca.pem');
  const server = files(join(ssl, 'server.pem'), join(ssl, 'server.key'), ca);
  const client = files(join(ssl, 'clients', 'node1.pem'), join(ssl, 'clients', 'node1.key'), ca);
  assert.deepEqual(checkTlsFiles('server.conf', server, 'server'), []);
  assert.deepEqual(checkTlsFiles('node.conf', client, 'client'), []);
  assert.throws(() => checkTlsFiles('server.conf', client, 'server'), (error: unknown) => error instanceof ConfigError
    && /^server\.conf:3: ssl_cert: \S+node1\.pem is not a server certificate \(its extended key usage allows client only\): every peer would refuse it \("unsuitable certificate purpose"\); give the server certificate/.test(error.message));
  assert.throws(() => checkTlsFiles('node.conf', server, 'client'), (error: unknown) => error instanceof ConfigError
    && /^node\.conf:3: ssl_cert: \S+server\.pem is not a client certificate \(its extended key usage allows server only\).*give this node's client certificate/.test(error.message));
});
