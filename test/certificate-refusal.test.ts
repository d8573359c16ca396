// The handshake probe behind "refused this client's certificate" (src/client/certificate-refusal.ts) against a
// real server: a valid certificate is 'accepted' (so a passing failure is never blamed on the certificate), a
// stopped server is 'unknown' (it stays "cannot reach"). 'refused' is proven in e2e-revocation and e2e-auth.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox } from './support/sandbox';
import { loadNodeConfig } from '../src/common/config/node-config';
import { probeHandshake } from '../src/client/certificate-refusal';

test('the handshake probe: a valid certificate is accepted, a stopped server is unknown', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const server = await sandbox.startServer();
  const config = loadNodeConfig(await sandbox.writeNodeConfig('node1', [`include = ${sandbox.root}`]));
  assert.equal(await probeHandshake(config), 'accepted');
  await server.stop();
  assert.equal(await probeHandshake(config), 'unknown');
});
