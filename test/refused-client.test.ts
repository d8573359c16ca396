// Whose failed attempt a refused handshake is: only a certificate a CA of ssl_ca issued, whichever
// block of the bundle that CA is (a rollover holds the old and the new one); never a self-made one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type tls from 'node:tls';
import { join, resolve } from 'node:path';
import { refusedClientName } from '../src/server/transport/refused-client';
import { runNode } from './support/sandbox';

const caCli = resolve(__dirname, '..', 'src', 'cli', 'cpsbackup-ca.js');

test('a refused certificate is its client\'s only when a CA of the bundle issued it, first block or not', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-refused-client-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  for (const name of ['ours', 'other']) {
    for (const args of [['init', '--dir', join(folder, name)], ['client', '--dir', join(folder, name), 'node1']]) {
      const made = await runNode(caCli, args, 60_000);
      assert.equal(made.code, 0, made.stderr);
    }
  }
  const peer = async (ca: string): Promise<tls.TLSSocket> => {
    const certificate = new X509Certificate(await readFile(join(folder, ca, 'clients', 'node1.pem')));
    return { getPeerX509Certificate: () => certificate, getPeerCertificate: () => certificate.toLegacyObject() } as unknown as tls.TLSSocket;
  };
  const ours = await readFile(join(folder, 'ours', 'ca.pem'));
  const other = await readFile(join(folder, 'other', 'ca.pem'));
  assert.equal(refusedClientName(await peer('ours'), ours), 'node1');
  assert.equal(refusedClientName(await peer('ours'), Buffer.concat([other, ours])), 'node1', 'our CA second in the bundle');
  assert.equal(refusedClientName(await peer('other'), ours), undefined, 'another CA\'s certificate with the same CN');
});
