// Proves status_ssl = 1 on the real server process: the status port answers /status and /metrics over
// HTTPS with the server's certificate to a client trusting the CA, refuses a client that does not
// trust it and a plain-HTTP request, and `cpsbackup-server status` reads it through the CA.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import type { TLSSocket } from 'node:tls';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import type { StatusReport } from '../src/server/status/status-report';
import { fetchStatus } from '../src/server/status/status-fetch';

interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly protocol: string;
}

function httpsGet(url: string, ca: Buffer | undefined): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const call = httpsRequest(url, { ca }, (response) => {
      const protocol = (response.socket as TLSSocket).getProtocol() ?? 'none';
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => { body += chunk; });
      response.on('end', () => resolve({
        status: response.statusCode ?? 0, contentType: String(response.headers['content-type']), body,
        protocol,
      }));
    });
    call.on('error', reject);
    call.end();
  });
}

function httpGet(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const call = httpRequest(url, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    call.on('error', reject);
    call.end();
  });
}

test('status_ssl = 1: /status and /metrics over HTTPS for a client trusting the CA; plain HTTP and untrusting clients refused', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1'], serverLines: ['status_ssl = 1'] });
  t.after(() => sandbox.destroy());
  const server = await sandbox.startServer();
  const match = /cpsbackup-server status on (https:\/\/127\.0\.0\.1:\d+)/.exec(server.log());
  assert.ok(match, `the server announces an https status URL:\n${server.log()}`);
  const statusUrl = match[1];
  const ca = await readFile(join(sandbox.sslDirectory, 'ca.pem'));
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  const node1 = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const backup = await sandbox.runClient(['-c', node1, '-e']);
  assert.equal(backup.code, 0, backup.stderr);

  await t.test('a client trusting ssl_ca gets /status and /metrics', async () => {
    const status = await httpsGet(`${statusUrl}/status`, ca);
    assert.equal(status.status, 200, status.body);
    assert.match(status.protocol, /^TLSv1\.[23]$/);
    assert.match(status.contentType, /^application\/json/);
    const report = JSON.parse(status.body) as StatusReport;
    assert.deepEqual(report.clients.map((client) => client.name), ['node1']);
    const metrics = await httpsGet(`${statusUrl}/metrics`, ca);
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^cpsbackup_\w+/m);
  });

  await t.test('a client not trusting the CA and a plain-HTTP request get no answer', async () => {
    await assert.rejects(httpsGet(`${statusUrl}/status`, undefined), (error: NodeJS.ErrnoException) => {
      console.log(`  without the CA: ${error.code}: ${error.message}`);
      return /CERT|SIGNATURE/.test(error.code ?? '');
    });
    const plain = statusUrl.replace(/^https:/, 'http:');
    await assert.rejects(httpGet(`${plain}/status`), (error: NodeJS.ErrnoException) => {
      console.log(`  plain HTTP: ${error.code}: ${error.message}`);
      return true;
    });
  });

  await t.test('cpsbackup-server status reads it, trusting ssl_ca', async () => {
    const text = await sandbox.runServerCommand(['status', '--url', statusUrl]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /node1/);
    const json = await sandbox.runServerCommand(['status', '--url', statusUrl, '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual((JSON.parse(json.stdout) as StatusReport).clients.map((client) => client.name), ['node1']);
    const plain = await sandbox.runServerCommand(['status', '--url', statusUrl.replace(/^https:/, 'http:')]);
    assert.notEqual(plain.code, 0);
    assert.match(plain.stderr, /no status server at http:\/\/127\.0\.0\.1:\d+ .*use https:\/\//);
  });
});

// Regression (security review): `cpsbackup-server status --url http://other-host:…` sent status_token in clear.
test('the status client never sends the token over plain HTTP to another host', async (t) => {
  const address = Object.values(networkInterfaces()).flat().find((entry) => entry !== undefined && entry.family === 'IPv4' && !entry.internal)?.address;
  if (address === undefined) {
    t.skip('this host has no non-loopback IPv4 address');
    return;
  }
  const seen: string[] = [];
  const listener = createServer((request, response) => {
    seen.push(String(request.headers.authorization));
    response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => listener.listen(0, '0.0.0.0', resolve));
  t.after(() => new Promise<void>((resolve) => listener.close(() => resolve())));
  const port = (listener.address() as AddressInfo).port;
  const token = 'a-long-enough-token-123';
  await assert.rejects(fetchStatus(`http://${address}:${port}`, { token }), /status_token is not sent over plain HTTP to another host; use https:\/\//);
  assert.deepEqual(seen, [], 'nothing reached the listener');
  // Loopback is this host: the token stays on it.
  await fetchStatus(`http://127.0.0.1:${port}`, { token });
  assert.deepEqual(seen, [`Bearer ${token}`]);
});
