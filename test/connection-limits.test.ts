// Regression (security review): any certificate our CA signed got a whole gRPC session, its registration checked only
// per call after the whole message arrived; no cap on a connection's streams (grpc-js buffers each stream's partial
// message up to 4 MiB) nor on connections. Now an unregistered certificate is closed at accept, before HTTP/2; a
// connection gets 4 streams at once; and connections are capped in all and per certificate (server.conf).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import { backupNow, sighupAndWaitFor, waitUntil } from './support/fault-tools';
import { issueClientCertificate } from '../src/ca/ca';
import { goawayReason } from '../src/client/certificate-refusal';

const HTTP2_PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);

function credentialsOf(sandbox: Sandbox, name: string): { ca: Buffer; cert: Buffer; key: Buffer } {
  return {
    ca: readFileSync(join(sandbox.sslDirectory, 'ca.pem')),
    cert: readFileSync(join(sandbox.sslDirectory, 'clients', `${name}.pem`)),
    key: readFileSync(join(sandbox.sslDirectory, 'clients', `${name}.key`)),
  };
}

/**
 * A TLS connection as `name` that sends HTTP/2's preface: open once the server answers, refused if closed first
 * or answered with a GOAWAY (a connection cap says so, its reason in the debug data).
 */
function connectAs(sandbox: Sandbox, port: number, name: string): Promise<{ socket: tls.TLSSocket; isAccepted: boolean; goaway?: string }> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ALPNProtocols: ['h2'], ...credentialsOf(sandbox, name) });
    socket.on('error', () => undefined);
    socket.once('secureConnect', () => socket.write(HTTP2_PREFACE));
    socket.once('data', (data: Buffer) => {
      const goaway = goawayReason(data);
      resolve(goaway === undefined ? { socket, isAccepted: true } : { socket, isAccepted: false, goaway });
    });
    socket.once('close', () => resolve({ socket, isAccepted: false }));
  });
}


test('connections: an unregistered certificate is closed at accept, and one certificate gets max_connections_per_client', { timeout: 60_000 }, async (t) => {
  const sandbox = await Sandbox.create({ serverLines: ['max_connections_per_client = 2'] });
  const sockets: tls.TLSSocket[] = [];
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await sandbox.destroy();
  });
  await issueClientCertificate(sandbox.sslDirectory, 'ghost');
  const server = await sandbox.startServer();

  // Signed by our CA, no client record: no HTTP/2 at all, and the CLI says its certificate was refused (exit 12).
  const ghost = await connectAs(sandbox, server.port, 'ghost');
  assert.equal(ghost.isAccepted, false, 'the unregistered certificate got an HTTP/2 session');
  const ghostConfig = await sandbox.writeNodeConfig('ghost', [`include = ${sandbox.root}`]);
  const listing = await sandbox.runClient(['-c', ghostConfig, '-l']);
  assert.equal(listing.code, 12, `${listing.stdout}${listing.stderr}`);
  assert.match(listing.stderr, /refused this client's certificate/);
  assert.match(server.log(), /refused a connection from 127\.0\.0\.1:\d+: client "ghost" \(serial \w+\): no accepted client record \(certificate CN "ghost" matches no client record/);

  // Two connections of node1 at once, not three; one closed makes room again.
  const first = await connectAs(sandbox, server.port, 'node1');
  const second = await connectAs(sandbox, server.port, 'node1');
  sockets.push(first.socket, second.socket);
  assert.deepEqual([first.isAccepted, second.isAccepted], [true, true]);
  const third = await connectAs(sandbox, server.port, 'node1');
  assert.equal(third.isAccepted, false, 'a third connection of node1 was accepted');
  // The refusal reaches the client (a GOAWAY) before its log line reaches this process through the server's stderr.
  await waitUntil(() => /client "node1": too many connections \(max_connections_per_client = 2\)/.test(server.log()), 'the refusal in the log', 5000);
  assert.match(third.goaway ?? '', /too many connections \(max_connections_per_client = 2\)/, 'told in HTTP/2, not closed as a refused certificate is');
  // The CLI says the server is busy, not that its certificate was refused (review of bf53173).
  const config = await sandbox.writeNodeConfig('node1', [`include = ${sandbox.root}`]);
  const busy = await sandbox.runClient(['-c', config, '-l']);
  assert.doesNotMatch(busy.stderr, /certificate/, busy.stderr);
  assert.match(busy.stderr, /(refused the connection: client "node1": too many connections|already had) \(?max_connections_per_client/);
  assert.notEqual(busy.code, 12);
  first.socket.destroy();
  await waitUntil(async () => {
    const again = await connectAs(sandbox, server.port, 'node1');
    sockets.push(again.socket);
    return again.isAccepted;
  }, 'a connection of node1 to be accepted once one closed', 10_000);
});

test('a connection gets 4 streams at once: more are refused, the others go on and a call after them works', { timeout: 60_000 }, async (t) => {
  const sandbox = await Sandbox.create();
  let session: http2.ClientHttp2Session | undefined;
  t.after(async () => {
    session?.destroy();
    await sandbox.destroy();
  });
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  const server = await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  await backupNow(sandbox, config, data);

  // Six uploads that send nothing, asked for before the server's SETTINGS arrive: a client that ignores the cap.
  session = http2.connect(`https://127.0.0.1:${server.port}`, { servername: 'localhost', ...credentialsOf(sandbox, 'node1') });
  session.on('error', () => undefined);
  const open = session;
  const request = (method: string): http2.ClientHttp2Stream => open.request({
    ':method': 'POST', ':path': `/cpsbackup.v1.Backup/${method}`, 'content-type': 'application/grpc', te: 'trailers',
  });
  const uploads = Array.from({ length: 6 }, () => request('Upload'));
  const refused = await Promise.all(uploads.map((stream) => new Promise<boolean>((resolve) => {
    stream.on('error', () => undefined);
    stream.once('close', () => resolve(stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM));
    // An upload that is not refused stays open: the server waits idle_timeout for its first message.
    stream.once('response', () => resolve(false));
    setTimeout(() => resolve(false), 3000);
  })));
  assert.equal(refused.filter(Boolean).length, 2, `refused: ${JSON.stringify(refused)}`);
  assert.equal(uploads.filter((stream) => !stream.closed).length, 4, 'the four streams within the cap stay open');
  assert.equal(open.remoteSettings.maxConcurrentStreams, 4);

  // One upload ends; a List on the same connection is answered.
  uploads.find((stream) => !stream.closed)!.close(http2.constants.NGHTTP2_CANCEL);
  const list = request('List');
  list.end(Buffer.alloc(5));
  const status = await new Promise<string | undefined>((resolve) => {
    list.on('error', () => resolve(undefined));
    list.on('trailers', (trailers) => resolve(String(trailers['grpc-status'])));
    list.resume();
  });
  assert.equal(status, '0', 'the List call failed');
});

test('max_connections caps verified connections, whichever client they come from; silent sockets do not take its places', { timeout: 60_000 }, async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1', 'node2'], serverLines: ['max_connections = 2'] });
  const sockets: tls.TLSSocket[] = [];
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await sandbox.destroy();
  });
  const server = await sandbox.startServer();
  // Anyone reaching the port can hold sockets that never finish a handshake (review of bf53173: they filled max_connections).
  const silent = await Promise.all(Array.from({ length: 4 }, () => new Promise<net.Socket>((resolve) => {
    const socket = net.connect(server.port, '127.0.0.1', () => resolve(socket));
    socket.on('error', () => undefined);
  })));
  t.after(() => silent.forEach((socket) => socket.destroy()));
  const first = await connectAs(sandbox, server.port, 'node1');
  const second = await connectAs(sandbox, server.port, 'node2');
  sockets.push(first.socket, second.socket);
  assert.deepEqual([first.isAccepted, second.isAccepted], [true, true]);
  const third = await connectAs(sandbox, server.port, 'node2');
  sockets.push(third.socket);
  assert.equal(third.isAccepted, false, 'a third connection was accepted');
  assert.match(third.goaway ?? '', /too many connections \(max_connections = 2\)/);
  await waitUntil(() => /refused a connection from 127\.0\.0\.1:\d+: client "node2": too many connections \(max_connections = 2\)/.test(server.log()), 'the refusal in the log', 5000);
});

test('a SIGHUP that removes a client\'s record closes its open connections, as a revocation does', { timeout: 60_000 }, async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1', 'node2'] });
  const sockets: tls.TLSSocket[] = [];
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await sandbox.destroy();
  });
  const server = await sandbox.startServer();
  const removed = await connectAs(sandbox, server.port, 'node1');
  const kept = await connectAs(sandbox, server.port, 'node2');
  sockets.push(removed.socket, kept.socket);
  assert.deepEqual([removed.isAccepted, kept.isAccepted], [true, true]);
  const closed = new Promise<void>((resolve) => removed.socket.once('close', () => resolve()));
  await rm(join(sandbox.clientsDirectory, 'node1'));
  await sighupAndWaitFor(server, /closing the open connection from 127\.0\.0\.1:\d+: client "node1" \(serial \w+\): no accepted client record/);
  await closed;
  assert.equal(kept.socket.destroyed, false, 'node2 keeps its connection');
});
