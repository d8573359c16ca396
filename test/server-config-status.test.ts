// Proves the status and notification keys of server.conf and warn_after in client records:
// defaults, accepted forms, and refusals (remote status without a token) naming file:line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isLoopbackAddress, serverConfigFromText } from '../src/common/config/server-config';
import { loadClientRegistry } from '../src/server/clients/load-client-registry';
import { configError } from './support/config-errors';

function makeTree(t: { after: (fn: () => void) => void }): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'cpsbackup-status-config-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (const name of ['ca.pem', 'server.pem', 'server.key']) writeFileSync(path.join(root, name), 'placeholder\n');
  return root;
}

const base = 'directory = store\nssl_cert = server.pem\nssl_key = server.key\nssl_ca = ca.pem\n';
const token = 'a-long-enough-token-123';


test('status keys: defaults keep the port local, no token, no notifications', (t) => {
  const root = makeTree(t);
  const config = serverConfigFromText(path.join(root, 'server.conf'), base);
  assert.equal(config.statusAddress, '127.0.0.1');
  assert.equal(config.statusPort, 4201);
  assert.equal(config.statusToken, undefined);
  assert.equal(config.allowRemoteStatus, false);
  assert.equal(config.notifyScript, undefined);
  assert.equal(config.notifyWebhook, undefined);
  assert.equal(config.warnAfterSeconds, undefined);
  assert.equal(config.anomalyShare, 0.5);
});

test('status keys: every accepted form', (t) => {
  const root = makeTree(t);
  const script = path.join(root, 'notify.sh');
  writeFileSync(script, '#!/bin/sh\ncat > /dev/null\n');
  chmodSync(script, 0o755);
  const config = serverConfigFromText(path.join(root, 'server.conf'), `${base}status_address = 0.0.0.0
allow_remote_status = 1
status_token = ${token}
status_ssl = 1
notify_script = notify.sh
notify_webhook = http://127.0.0.1:9999/hook
warn_after = 26h
anomaly_share = 25%
`);
  assert.equal(config.statusAddress, '0.0.0.0');
  assert.equal(config.allowRemoteStatus, true);
  assert.equal(config.statusToken, token);
  assert.equal(config.notifyScript, script);
  assert.equal(config.notifyWebhook, 'http://127.0.0.1:9999/hook');
  assert.equal(config.warnAfterSeconds, 26 * 3600);
  assert.equal(config.anomalyShare, 0.25);
  for (const [text, seconds] of [['2s', 2], ['90m', 5400], ['7d', 604800], ['1w', 604800], ['45', 45]] as const) {
    assert.equal(serverConfigFromText(path.join(root, 's.conf'), `${base}warn_after = ${text}\n`).warnAfterSeconds, seconds);
  }
  assert.equal(serverConfigFromText(path.join(root, 's.conf'), `${base}anomaly_share = 0.75\n`).anomalyShare, 0.75);
  // A token on a loopback port is allowed too: then every request must carry it.
  assert.equal(serverConfigFromText(path.join(root, 's.conf'), `${base}status_token = ${token}\n`).statusToken, token);
});

test('status keys: a non-loopback status address needs allow_remote_status and a token', (t) => {
  const root = makeTree(t);
  const file = path.join(root, 'server.conf');
  assert.throws(() => serverConfigFromText(file, `${base}status_address = 0.0.0.0\n`), configError(5, /not a loopback address.*allow_remote_status/));
  assert.throws(() => serverConfigFromText(file, `${base}status_address = backup.example.com\n`), configError(5, /not a loopback/));
  assert.throws(() => serverConfigFromText(file, `${base}status_address = 0.0.0.0\nallow_remote_status = 1\n`),
    configError(6, /requires status_token/));
  assert.throws(() => serverConfigFromText(file, `${base}status_token = short\n`), configError(5, /16 to 256/));
  assert.throws(() => serverConfigFromText(file, `${base}allow_remote_status = maybe\n`), configError(5, /0 or 1/));
  assert.ok(isLoopbackAddress('127.0.0.1') && isLoopbackAddress('127.1.2.3') && isLoopbackAddress('::1') && isLoopbackAddress('localhost'));
  assert.ok(!isLoopbackAddress('0.0.0.0') && !isLoopbackAddress('10.0.0.1') && !isLoopbackAddress('::'));
});

// Regression (security review): allow_remote_status = 1 over plain HTTP sent the bearer token across the network in clear.
test('status keys: a remote status port needs status_ssl = 1, refused at allow_remote_status\'s line', (t) => {
  const root = makeTree(t);
  const file = path.join(root, 'server.conf');
  const remote = `${base}status_address = 0.0.0.0\nallow_remote_status = 1\nstatus_token = ${token}\n`;
  assert.throws(() => serverConfigFromText(file, remote), configError(6, /allow_remote_status = 1 requires status_ssl = 1: .*token would cross the network in clear/));
  assert.throws(() => serverConfigFromText(file, `${remote}status_ssl = 0\n`), configError(6, /requires status_ssl = 1/));
  assert.equal(serverConfigFromText(file, `${remote}status_ssl = 1\n`).allowRemoteStatus, true);
});

test('status_figures_max_age: 30 s by default, 0 or a duration, anything else refused at its line', (t) => {
  const root = makeTree(t);
  const file = path.join(root, 'server.conf');
  assert.equal(serverConfigFromText(file, base).statusFiguresMaxAgeSeconds, 30);
  assert.equal(serverConfigFromText(file, `${base}status_figures_max_age = 0\n`).statusFiguresMaxAgeSeconds, 0);
  assert.equal(serverConfigFromText(file, `${base}status_figures_max_age = 5m\n`).statusFiguresMaxAgeSeconds, 300);
  assert.throws(() => serverConfigFromText(file, `${base}status_figures_max_age = soon\n`), configError(5, /status_figures_max_age must be a duration/));
});

test('notification keys: bad values name the line', (t) => {
  const root = makeTree(t);
  const file = path.join(root, 'server.conf');
  writeFileSync(path.join(root, 'not-executable.sh'), '#!/bin/sh\n');
  chmodSync(path.join(root, 'not-executable.sh'), 0o644);
  assert.throws(() => serverConfigFromText(file, `${base}notify_script = missing.sh\n`), configError(5, /does not exist/));
  assert.throws(() => serverConfigFromText(file, `${base}notify_script = not-executable.sh\n`), configError(5, /not executable/));
  assert.throws(() => serverConfigFromText(file, `${base}notify_webhook = ftp://host/x\n`), configError(5, /http or https URL/));
  assert.throws(() => serverConfigFromText(file, `${base}notify_webhook = not a url\n`), configError(5, /http or https URL/));
  assert.throws(() => serverConfigFromText(file, `${base}warn_after = soon\n`), configError(5, /duration/));
  assert.throws(() => serverConfigFromText(file, `${base}warn_after = 0s\n`), configError(5, /duration/));
  assert.throws(() => serverConfigFromText(file, `${base}anomaly_share = 0\n`), configError(5, /anomaly_share/));
  assert.throws(() => serverConfigFromText(file, `${base}anomaly_share = half\n`), configError(5, /anomaly_share/));
  assert.throws(() => serverConfigFromText(file, `${base}warn_after = 1h\nwarn_after = 2h\n`), configError(6, /only once/));
});

test('client records: warn_after overrides the global one, in the same duration forms', (t) => {
  const root = makeTree(t);
  const clients = path.join(root, 'clients');
  mkdirSync(clients);
  writeFileSync(path.join(clients, 'node1'), 'ssl_peer_cn = node1\nwarn_after = 2d\n');
  writeFileSync(path.join(clients, 'node2'), 'ssl_peer_cn = node2\n');
  const load = () => loadClientRegistry({ file: path.join(root, 'server.conf'), clientsDirectory: clients, clientsDirectoryLine: undefined });
  const records = load();
  assert.equal(records.byName('node1')?.warnAfterSeconds, 2 * 86400);
  assert.equal(records.byName('node2')?.warnAfterSeconds, undefined);
  writeFileSync(path.join(clients, 'node2'), 'ssl_peer_cn = node2\n\nwarn_after = never\n');
  const refused = load().refused;
  assert.deepEqual(refused.map((record) => [record.name, record.line]), [['node2', 3]]);
  assert.match(refused[0].problem, /duration/);
  assert.deepEqual(load().clientNames, ['node1'], 'the other record stays accepted');
});
