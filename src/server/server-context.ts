// Everything a handler needs, built once at start and passed down (no module-level state).
import type { ChunkStore } from '../chunkstore/store';
import type { ServerConfig } from '../common/config/server-config';
import type { Logger } from '../common/logger';
import type { Activity } from './activity';
import type { Maintenance } from './maintenance';
import type { LiveClientRegistry } from './clients/live-client-registry';

export interface ServerContext {
  readonly config: ServerConfig;
  readonly store: ChunkStore;
  readonly logger: Logger;
  readonly activity: Activity;
  readonly maintenance: Maintenance;
  /** The accepted client records; `.current` is replaced on SIGHUP (`.reload()`). */
  readonly clients: LiveClientRegistry;
}
