// Everything a handler needs, built once at start and passed down (no module-level state).
import type { ChunkStore } from '../chunkstore/store';
import type { ServerConfig } from '../common/config/server-config';
import type { Logger } from '../common/logger';
import type { Activity } from './activity';
import type { Maintenance } from './maintenance';

export interface ServerContext {
  readonly config: ServerConfig;
  readonly store: ChunkStore;
  readonly logger: Logger;
  readonly activity: Activity;
  readonly maintenance: Maintenance;
}
