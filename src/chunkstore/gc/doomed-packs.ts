// Deletes the objects of packs GC doomed, once no open reader holds them (reader-leases.ts).
// A delete that fails (an object store that is down) is retried at the next chance; the doom is
// recorded in the catalog, so a restart forgets nothing.
import type { PackBackend } from '../backend/pack-backend';
import type { Catalog } from '../catalog/catalog';
import type { ReaderLeases } from '../read/reader-leases';
import type { Logger } from '../../common/logger';
import { errorMessage } from '../../common/errors';

export interface DoomHooks {
  /** A pack left the catalog. */
  readonly onDoomed?: () => void;
  /**
   * Before the first object of a round is deleted: a store that snapshots its catalog to the bucket saves
   * one that no longer names the doomed packs, or a recovered catalog would name deleted packs (their
   * chunks moved by compaction). A rejection keeps every doomed object for the next round.
   */
  readonly beforeDelete?: () => Promise<void>;
}

export class DoomedPacks {
  private deleting: Promise<number> | undefined;
  /** Asked for while a round ran: that round had read its list and checked its holds already. */
  private isAskedAgain = false;

  constructor(
    private readonly catalog: Catalog,
    private readonly backend: PackBackend,
    private readonly readers: ReaderLeases,
    private readonly logger: Logger | undefined,
    private readonly hooks: DoomHooks = {},
  ) {}

  /** Removes a pack's row (it must hold no chunk rows) and dooms its object; false if chunks still lie there. Synchronous. */
  doom(packId: number, name: string): boolean {
    const isDoomed = this.catalog.transaction(() => this.catalog.packs.doom(packId, name, Date.now()), true);
    if (isDoomed) this.hooks.onDoomed?.();
    return isDoomed;
  }

  /**
   * Deletes every doomed object no reader can still need; returns how many were deleted. Runs once at a
   * time; asked again while a round runs, another round follows it: a reader that ended meanwhile (or a
   * compaction that doomed more) would otherwise leave its packs on disk until some later GC (review).
   */
  deleteReady(): Promise<number> {
    if (this.deleting !== undefined) {
      this.isAskedAgain = true;
      return this.deleting;
    }
    this.deleting = this.deleteRounds().finally(() => { this.deleting = undefined; });
    return this.deleting;
  }

  private async deleteRounds(): Promise<number> {
    let deleted = 0;
    do {
      this.isAskedAgain = false;
      deleted += await this.deleteNow();
    } while (this.isAskedAgain);
    return deleted;
  }

  private async deleteNow(): Promise<number> {
    let deleted = 0;
    let isCatalogSaved = false;
    for (const { name } of this.catalog.packs.doomed()) {
      // Only a reader that took a location in this very pack keeps it (none can after its doom; none after a restart).
      if (this.readers.isHeld(name)) continue;
      if (!isCatalogSaved && this.hooks.beforeDelete) {
        try {
          await this.hooks.beforeDelete();
        } catch (error) {
          // The round ends here: asking again for each remaining pack copied and uploaded the whole catalog once per pack.
          this.logger?.warn(`doomed packs stay in ${this.backend.location} until a catalog snapshot without them is stored: ${errorMessage(error)}`);
          return deleted;
        }
        isCatalogSaved = true;
      }
      try {
        await this.backend.deletePack(name);
        this.catalog.packs.forget(name);
        deleted++;
      } catch (error) {
        this.logger?.warn(`could not delete doomed pack ${name} from ${this.backend.location}, will retry: ${errorMessage(error)}`);
      }
    }
    return deleted;
  }
}
