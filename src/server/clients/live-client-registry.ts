// The registry the running server answers from: loaded at start, replaced as a whole on SIGHUP.
// A reload that cannot list the folder keeps the previous registry; every refusal is logged.
import { shownPath } from '../../common/config/display';
import { errorMessage } from '../../common/errors';
import type { Logger } from '../../common/logger';
import { locationOf, type ClientRegistry } from './client-registry';
import { loadClientRegistry, type ClientsFolderConfig } from './load-client-registry';

/** What callers hold: `current` is read once per call, so a call sees one registry from start to end. */
export interface ClientRegistrySource {
  readonly current: ClientRegistry;
}

export class LiveClientRegistry implements ClientRegistrySource {
  private registry: ClientRegistry;

  private constructor(private readonly config: ClientsFolderConfig, private readonly logger: Logger, first: ClientRegistry) {
    this.registry = first;
  }

  /** At start: a folder that cannot be listed is a configuration error (exit 2); bad records are logged and refused. */
  static load(config: ClientsFolderConfig, logger: Logger): LiveClientRegistry {
    const registry = loadClientRegistry(config);
    logRegistry(logger, registry, undefined);
    return new LiveClientRegistry(config, logger, registry);
  }

  get current(): ClientRegistry {
    return this.registry;
  }

  /** Rereads the folder and swaps in the result; returns false (and keeps serving the previous one) when it cannot be listed. */
  reload(): boolean {
    let next: ClientRegistry;
    try {
      next = loadClientRegistry(this.config);
    } catch (error) {
      const previous = this.registry.clientNames;
      this.logger.error(`clients not reloaded, keeping the previous ${previous.length} (${previous.join(', ') || 'none'}): ${errorMessage(error)}`);
      return false;
    }
    logRegistry(this.logger, next, this.registry);
    // One assignment: a call that already read `current` goes on with the registry it read.
    this.registry = next;
    return true;
  }
}

function logRegistry(logger: Logger, registry: ClientRegistry, previous: ClientRegistry | undefined): void {
  const names = registry.clientNames;
  for (const name of registry.ignored) logger.info(`clients: ignored ${shownPath(`${registry.folder}/${name}`)} (an editor or backup file)`);
  for (const record of registry.refused) {
    const wasAccepted = previous?.byName(record.name) !== undefined ? ' (it was accepted before this reload)' : '';
    logger.error(`${locationOf(record)}: ${record.problem}; client "${record.name}" is refused${wasAccepted}`);
  }
  const verb = previous === undefined ? 'loaded' : 'reloaded';
  const refused = registry.refused.length > 0 ? `; ${registry.refused.length} record(s) refused (see above)` : '';
  if (names.length === 0) {
    logger.error(`clients ${verb} from ${shownPath(registry.folder)}: NO valid client record; every client is refused until one is added (then send SIGHUP)${refused}`);
    return;
  }
  logger.info(`clients ${verb} from ${shownPath(registry.folder)}: ${names.length} accepted (${names.join(', ')})${refused}`);
  // Said at every load: append_only_keep_days came with an upgrade and keeps more of these clients' backups.
  const appendOnly = names.filter((name) => registry.byName(name)?.rights.canDelete === false);
  if (appendOnly.length > 0) {
    logger.info(`clients append-only (client_can_delete = 0): ${appendOnly.join(', ')}: retention keeps every backup of their last `
      + 'append_only_keep_days days (default 7) and counts its rules over the older ones');
  }
}
