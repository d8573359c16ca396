// A server started with a client certificate as its ssl_cert (or a node given the server's) ran, and
// every peer refused it with "unsuitable certificate purpose", a message naming no file; the server
// logged nothing. Refused when the configuration is read, naming the line and what to give instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { checkTlsFiles } from '../src/common/tls/tls-files';
import { ConfigError } from '../src/common/errors';
import { caFolder, tlsFilesAt } from './support/tls-test-files';

test('a certificate whose extended key usage is for the other side is refused, naming the line; each side takes its own', async (t) => {
  const ssl = await caFolder(t, 'cpsbackup-tls-purpose-', [['init'], ['server', '--name', 'localhost'], ['client', 'node1']]);
  const ca = join(ssl, 'ca.pem');
  const server = tlsFilesAt(join(ssl, 'server.pem'), join(ssl, 'server.key'), ca);
  const client = tlsFilesAt(join(ssl, 'clients', 'node1.pem'), join(ssl, 'clients', 'node1.key'), ca);
  assert.deepEqual(checkTlsFiles('server.conf', server, 'server'), []);
  assert.deepEqual(checkTlsFiles('node.conf', client, 'client'), []);
  assert.throws(() => checkTlsFiles('server.conf', client, 'server'), (error: unknown) => error instanceof ConfigError
    && /^server\.conf:3: ssl_cert: \S+node1\.pem is not a server certificate \(its extended key usage allows client only\): every peer would refuse it \("unsuitable certificate purpose"\); give the server certificate/.test(error.message));
  assert.throws(() => checkTlsFiles('node.conf', server, 'client'), (error: unknown) => error instanceof ConfigError
    && /^node\.conf:3: ssl_cert: \S+server\.pem is not a client certificate \(its extended key usage allows server only\).*give this node's client certificate/.test(error.message));
});
