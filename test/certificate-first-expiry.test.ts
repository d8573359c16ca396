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
import type tls from 'node:tls';
import { firstExpiryOf, isChainedToOneOf, provenChainOf } from '../src/server/transport/certificate-in-force';

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

/** A socket whose handshake carried these certificates, linked as Node links them (by name, each to the next). */
function socketCarrying(certificates: readonly X509Certificate[]): tls.TLSSocket {
  const links = certificates.map((certificate) => ({ raw: certificate.raw } as tls.DetailedPeerCertificate));
  links.forEach((link, index) => { link.issuerCertificate = links[index + 1] ?? link; });
  return { getPeerCertificate: () => links[0] } as unknown as tls.TLSSocket;
}

// Review of the fix above: the chain was Node's links, which pair a certificate with any the client sent of its
// issuer's name, unchecked. A forged "CA" of that name lasting longer than the real one moved the expiry past the
// CA's (and an expired copy of the CA in the client's file cut every connection at once).
test('the chain is proven by signatures up to a CA of ssl_ca: a forged issuer the client sends does not count', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-proven-chain-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const real = await initCertificateAuthority(join(folder, 'real'), { days: 2 });
  const forged = await initCertificateAuthority(join(folder, 'forged'), { days: 3650 });
  const issued = await issueClientCertificate(join(folder, 'real'), 'node1', { days: 825 });
  const [client, realCa, forgedCa] = await Promise.all([issued.cert, real.caCert, forged.caCert].map(async (file) => new X509Certificate(await readFile(file))));
  assert.equal(realCa.subject, forgedCa.subject, 'fixture: the forged CA bears the real one\'s name');

  const socket = socketCarrying([client, forgedCa]);
  const proven = provenChainOf(socket, [realCa], Date.now());
  assert.deepEqual(proven.chain.map((certificate) => certificate.fingerprint256), [client.fingerprint256, realCa.fingerprint256]);
  assert.equal(proven.anchor?.fingerprint256, realCa.fingerprint256);
  assert.equal(firstExpiryOf(proven.chain)?.notAfter, Date.parse(realCa.validTo));
  assert.equal(isChainedToOneOf(socket, [forgedCa]), false, 'the forged CA signed nothing of this chain');
  assert.equal(isChainedToOneOf(socket, [realCa]), true);
});
