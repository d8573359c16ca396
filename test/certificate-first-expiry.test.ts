// Review: an open connection was ended at its client certificate's notAfter only, while a fresh handshake
// also fails once the CA (or an intermediate) above it has expired, and cpsbackup-ca issues client
// certificates that outlive their CA. The connection now ends at the first notAfter of its verified chain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCertificateAuthority, issueClientCertificate } from '../src/ca/ca';
import { firstExpiryOf } from '../src/server/transport/certificate-in-force';

test('the first notAfter of a chain decides, the issuer\'s when it comes first, named in the reason', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-first-expiry-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const authority = await initCertificateAuthority(folder, { commonName: 'short CA', days: 2 });
  const issued = await issueClientCertificate(folder, 'node1', { days: 825 });
  const ca = new X509Certificate(await readFile(authority.caCert));
  const client = new X509Certificate(await readFile(issued.cert));
  assert.ok(Date.parse(client.validTo) > Date.parse(ca.validTo), 'fixture: the client certificate outlives its CA');

  const expiry = firstExpiryOf([client, ca]);
  assert.equal(expiry?.notAfter, Date.parse(ca.validTo));
  assert.match(expiry!.which, /^certificate of its issuer .*CN=short CA/);
  assert.deepEqual(firstExpiryOf([client]), { notAfter: Date.parse(client.validTo), which: 'certificate' });
  assert.equal(firstExpiryOf([]), undefined);
});
