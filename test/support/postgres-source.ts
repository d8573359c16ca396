// The storage.conf source the PostgreSQL dump tests share: database shop on a throwaway server, dumped as
// `user` unless the test's own lines name another.
import { storageConfigFromText, type StorageConfig } from '../../src/client/sources/storage-config';
import { POSTGRES_BIN, type PostgresServer } from './postgres';

export function shopSourceConfig(server: PostgresServer, lines: readonly string[] = [], user = 'postgres'): StorageConfig {
  return storageConfigFromText('storage.conf', [
    'source = shop', 'kind = postgresql', 'database = shop', `socket = ${server.socketDirectory}`, `port = ${server.port}`,
    `bin_dir = ${POSTGRES_BIN}`, ...(lines.some((line) => /^user\s*=/.test(line)) ? [] : [`user = ${user}`]), ...lines,
  ].join('\n'));
}
