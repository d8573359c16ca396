// A certificate about to expire is said ahead (30 days), naming the file and the line, at each backup,
// daemon job and server start: once expired every peer refuses it and every backup fails, 825 days
// after a set-up nobody remembers. The check takes its clock as a parameter: no waiting, no faked time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { checkTlsFiles } from '../src/common/tls/tls-files';
import { expiryNotices } from '../src/common/tls/certificate-expiry';
import { CertificateWatch } from '../src/server/certificate-watch';
import { caFolder, tlsFilesAt } from './support/tls-test-files';

const DAY_MS = 24 * 60 * 60 * 1000;

test('a node certificate or CA expiring within 30 days is announced, naming the line; a valid one is not', async (t) => {
  const ssl = await caFolder(t, 'cpsbackup-cert-expiry-', [['init'], ['client', '--days', '100', 'node1']]);
  const ca = join(ssl, 'ca.pem');
  const cert = join(ssl, 'clients', 'node1.pem');
  const client = tlsFilesAt(cert, join(ssl, 'clients', 'node1.key'), ca);
  assert.deepEqual(checkTlsFiles('node.conf', client, 'client'), [], 'valid 100 days: nothing to say');
  assert.deepEqual(expiryNotices({ sslCert: cert, sslCa: ca }), []);

  const in90Days = Date.now() + 90 * DAY_MS;
  const soon = checkTlsFiles('node.conf', client, 'client', in90Days);
  assert.equal(soon.length, 1, soon.join('\n'));
  assert.match(soon[0], /^node\.conf:3: ssl_cert: \S+node1\.pem expires on .* \(in (9|10) days\): from then on every peer refuses it; renew it before/);
  const daemonNotices = expiryNotices({ sslCert: cert, sslCa: ca }, in90Days);
  assert.equal(daemonNotices.length, 1);
  assert.match(daemonNotices[0], new RegExp(`^ssl_cert ${cert} expires on .* \\(in (9|10) days\\)`));
  // A server runs for months: its daily look logs the same at warn level.
  const logged: string[] = [];
  const watch = new CertificateWatch({ sslCert: cert, sslCa: ca }, { info: () => undefined, warn: (line) => logged.push(line), error: () => undefined });
  assert.deepEqual(watch.look(), []);
  assert.deepEqual(watch.look(in90Days), daemonNotices);
  assert.deepEqual(logged, daemonNotices);

  // The CA (3650 days) near its end, the node's certificate long expired.
  const caNearEnd = Date.now() + 3640 * DAY_MS;
  const late = checkTlsFiles('node.conf', client, 'client', caNearEnd);
  assert.equal(late.length, 2, late.join('\n'));
  assert.match(late[0], /^node\.conf:3: ssl_cert: \S+node1\.pem expired on .*; peers will refuse it$/);
  assert.match(late[1], /^node\.conf:5: ssl_ca: \S+ca\.pem: the CA .* expires on .* \(in (9|10) days\)/);
});
