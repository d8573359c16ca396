// Opens the mutually authenticated gRPC channel to the backup server from node.conf.
import type { BackupClient } from '../proto/cpsbackup';
import { FastBackupClient } from '../common/wire/fast-service';
import type { NodeConfig } from '../common/config/node-config';
import { channelOptions, clientCredentials } from '../common/tls/credentials';

export function connectToServer(config: NodeConfig): BackupClient {
  const host = config.server.includes(':') && !config.server.startsWith('[') ? `[${config.server}]` : config.server;
  return new FastBackupClient(`${host}:${config.port}`, clientCredentials(config), channelOptions(config));
}
