// Run as a process of its own by calls-in-flight.test.ts: opens an Upload through connectToServer, and
// once the server has answered Begin, unreferences the connection's HTTP/2 session (grpc-js opens it
// with http2.connect, which this wraps to see it). That is the state Node's
// HTTP/2 leaves a connection in when it loses the server's close (src/client/calls-in-flight.ts): a call
// in flight and nothing that keeps the event loop alive. Prints how the call ended and exits through exitWith.
import { once } from 'node:events';
import { hostname } from 'node:os';
import http2 from 'node:http2';
import { loadNodeConfig } from '../../src/common/config/node-config';
import { connectToServer } from '../../src/client/connection';
import { fromServiceError } from '../../src/client/remote-error';
import { errorMessage } from '../../src/common/errors';
import { exitWith } from '../../src/cli/exit-with';
import { BackupKind } from '../../src/proto/cpsbackup';

const sessions: http2.ClientHttp2Session[] = [];
const connect = http2.connect;
(http2 as { connect: typeof http2.connect }).connect = ((...args: Parameters<typeof http2.connect>) => {
  const session = connect(...args);
  sessions.push(session);
  return session;
}) as typeof http2.connect;

async function main(): Promise<number> {
  const config = loadNodeConfig(process.argv[2]);
  const client = connectToServer(config);
  const call = client.upload();
  const ended = new Promise<void>((resolve, reject) => {
    call.on('data', () => undefined);
    call.on('error', reject);
    call.on('end', resolve);
  });
  ended.catch(() => undefined);
  call.write({ message: { $case: 'begin', value: {
    hostname: hostname(), kind: BackupKind.BACKUP_KIND_COMPLETE, parentBackupId: 0, labels: {}, clientVersion: 'test', isScheduled: false,
  } } });
  await once(call, 'metadata');
  for (const session of sessions) session.unref();
  process.stdout.write(`unreferenced ${sessions.length} connection(s)\n`);
  try {
    await ended;
    process.stdout.write('the call ended without an error\n');
    return 0;
  } catch (error) {
    process.stdout.write(`the call failed: ${errorMessage(fromServiceError(error, `${config.server}:${config.port}`))}\n`);
    return 7;
  } finally {
    client.close();
  }
}

exitWith(main(), 'unreferenced-connection-client');
