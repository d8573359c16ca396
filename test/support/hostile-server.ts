// A backup server that answers a Restore with whatever a test makes it say: the real TLS listener, the
// sandbox's certificates and client records, and a hand-written restore stream in place of the store. For
// tests of what the restoring client does with a server that is broken or taken over.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { BackupServer, RestoreRequest, RestoreResponse } from '../../src/proto/cpsbackup';
import { FastBackupService } from '../../src/common/wire/fast-service';
import { loadServerConfig } from '../../src/common/config/server-config';
import { loadNodeConfig, type NodeConfig } from '../../src/common/config/node-config';
import { createLogger } from '../../src/common/logger';
import { LiveClientRegistry } from '../../src/server/clients/live-client-registry';
import { listenWithMutualTls } from '../../src/server/transport/mutual-tls-listener';
import { Sandbox, nodeConfigLines } from './sandbox';

export interface HostileServer {
  readonly sandbox: Sandbox;
  /** The requests the server was sent, in order. */
  readonly requests: RestoreRequest[];
  /** A node config for a registered client of this server. */
  nodeConfig(client: string, lines?: readonly string[]): Promise<NodeConfig>;
  stop(): Promise<void>;
}

/** answer: the messages sent in reply to a Restore, then the call ends as a complete one. Every other call is unimplemented. */
export async function startHostileServer(answer: (request: RestoreRequest) => readonly RestoreResponse[],
  clients: readonly string[] = ['node1']): Promise<HostileServer> {
  const sandbox = await Sandbox.create({ clients });
  const config = loadServerConfig(sandbox.serverConfigFile);
  const logger = createLogger('hostile', () => undefined);
  const requests: RestoreRequest[] = [];
  const implementation: Partial<BackupServer> = {
    restore: (call) => {
      requests.push(call.request);
      for (const message of answer(call.request)) call.write(message);
      call.end();
    },
  };
  const server = new grpc.Server();
  server.addService(FastBackupService, implementation as BackupServer);
  const listener = await listenWithMutualTls(server, config, logger, LiveClientRegistry.load(config, logger));
  return {
    sandbox,
    requests,
    async nodeConfig(client, lines = []) {
      const file = join(sandbox.root, `${client}.conf`);
      await writeFile(file, [...nodeConfigLines(sandbox, client, listener.port), ...lines, ''].join('\n'));
      return loadNodeConfig(file);
    },
    async stop() {
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      listener.close();
      await sandbox.destroy();
    },
  };
}
