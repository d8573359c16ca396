// Opens the mutually authenticated gRPC channel to the backup server from node.conf.
import { BackupClient } from '../proto/cpsbackup';
import type { NodeConfig } from '../common/config/node-config';
import { channelOptions, clientCredentials } from '../common/tls/credentials';

export function connectToServer(config: NodeConfig): BackupClient {
  const host = config.server.includes(':') && !config.server.startsWith('[') ? `[${config.server}]` : config.server;
  return new BackupClient(`${host}:${config.port}`, clientCredentials(config), channelOptions(config));
}
