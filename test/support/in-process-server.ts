// The real backup server started inside the test process (same TLS, same store, same handlers, port
// chosen by the system): for tests of the protocol and the store that need a server but not a
// separate process, and run in a second or two. The sandbox's process server stays for everything
// that must survive kills, signals and restarts.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadServerConfig } from '../../src/common/config/server-config';
import { loadNodeConfig, type NodeConfig } from '../../src/common/config/node-config';
import { createLogger } from '../../src/common/logger';
import { startBackupServer, type RunningServer } from '../../src/server/backup-server';
import { Sandbox, nodeConfigLines } from './sandbox';

export interface InProcessServer {
  readonly sandbox: Sandbox;
  readonly server: RunningServer;
  /** The server's log lines so far. */
  readonly log: string[];
  /** A node config for a registered client of this server, loaded as the client library takes it. */
  nodeConfig(client: string, lines: readonly string[]): Promise<NodeConfig>;
  stop(): Promise<void>;
}

export async function startInProcessServer(clients: readonly string[] = ['node1'], serverLines: readonly string[] = []): Promise<InProcessServer> {
  const sandbox = await Sandbox.create({ clients, serverLines });
  const log: string[] = [];
  const server = await startBackupServer(loadServerConfig(sandbox.serverConfigFile), createLogger('in-process', (line) => { log.push(line); }));
  return {
    sandbox,
    server,
    log,
    async nodeConfig(client, lines) {
      const file = join(sandbox.root, `${client}.conf`);
      await writeFile(file, [...nodeConfigLines(sandbox, client, server.port), ...lines, ''].join('\n'));
      return loadNodeConfig(file);
    },
    async stop() {
      await server.stop();
      await sandbox.destroy();
    },
  };
}
