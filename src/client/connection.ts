// Opens the mutually authenticated gRPC channel to the backup server from node.conf.
import * as grpc from '@grpc/grpc-js';
import type { BackupClient } from '../proto/cpsbackup';
import { FastBackupClient } from '../common/wire/fast-service';
import type { NodeConfig } from '../common/config/node-config';
import { channelOptions, clientCredentials } from '../common/tls/credentials';
import { CallsInFlight } from './calls-in-flight';
import { droppedCallInterceptor } from './dropped-call';

export function connectToServer(config: NodeConfig): BackupClient {
  const host = config.server.includes(':') && !config.server.startsWith('[') ? `[${config.server}]` : config.server;
  const options: grpc.ClientOptions = { ...channelOptions(config), interceptors: [new CallsInFlight().interceptor, droppedCallInterceptor] };
  const client = new FastBackupClient(`${host}:${config.port}`, clientCredentials(config), options);
  closeWhenConnectingTooLong(client, config.networkTimeoutSeconds * 1000);
  return client;
}

/**
 * grpc-js gives a connection attempt no time limit of its own: a server that accepts the TCP connection
 * and then answers nothing (a frozen process) kept every call waiting for the TLS handshake for ever.
 * After network_timeout spent connecting without a break (name lookup, TCP connect, handshake), the
 * channel is closed, which fails the calls waiting for it ("Channel closed before call started", worded
 * for the user in remote-error.ts). A refused connection or handshake leaves CONNECTING at once, and its
 * calls fail as they always did; a host that drops packets used to fail at the kernel's connect timeout
 * (about 127 s), and still does when network_timeout is longer.
 */
function closeWhenConnectingTooLong(client: grpc.Client, milliseconds: number): void {
  const channel = client.getChannel();
  let timer: NodeJS.Timeout | undefined;
  const follow = (state: grpc.connectivityState): void => {
    clearTimeout(timer);
    if (state === grpc.connectivityState.SHUTDOWN) return;
    // Unreferenced: a call waiting for the connection keeps the process alive; nothing else should.
    if (state === grpc.connectivityState.CONNECTING) timer = setTimeout(() => client.close(), milliseconds).unref();
    channel.watchConnectivityState(state, Infinity, () => follow(channel.getConnectivityState(false)));
  };
  follow(channel.getConnectivityState(false));
}
