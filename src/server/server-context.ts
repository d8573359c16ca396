// Everything a handler needs, built once at start and passed down (no module-level state).
import type { ChunkStore } from '../chunkstore/store';
import type { ServerConfig } from '../common/config/server-config';
import type { Logger } from '../common/logger';
import type { Activity } from './activity';
import type { Maintenance } from './maintenance';
import type { LiveClientRegistry } from './clients/live-client-registry';
import type { PatternSlots } from './pattern/pattern-slots';

export interface ServerContext {
  readonly config: ServerConfig;
  readonly store: ChunkStore;
  readonly logger: Logger;
  readonly activity: Activity;
  readonly maintenance: Maintenance;
  /** The accepted client records; `.current` is replaced on SIGHUP (`.reload()`). */
  readonly clients: LiveClientRegistry;
  /** Each client's calls matching a pattern in a worker (Find, Restore with -r), capped per client. */
  readonly patternSlots: PatternSlots;
}
