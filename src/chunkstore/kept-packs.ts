// Objects in the packs area that the catalog does not name and that no crash of this store left: a start
// keeps them (they may hold a newer catalog's backups), and this says what they are and what to do.
import type { StoredObject } from './backend/pack-backend';

/** Unknown objects a start kept: how many, their bytes, and the first few names. */
export interface KeptPacks {
  readonly count: number;
  readonly bytes: number;
  /** At most SAMPLE_SIZE names, to look for in the bucket or folder. */
  readonly sampleNames: readonly string[];
  /** Kept because the catalog came from `recover` (orphans it does not name), not because nothing announced them. */
  readonly isSinceRecover: boolean;
}

const SAMPLE_SIZE = 3;

export const NO_KEPT_PACKS: KeptPacks = { count: 0, bytes: 0, sampleNames: [], isSinceRecover: false };

export function keptPacksOf(objects: readonly StoredObject[], isSinceRecover: boolean): KeptPacks {
  return {
    count: objects.length,
    bytes: objects.reduce((sum, object) => sum + object.size, 0),
    sampleNames: objects.slice(0, SAMPLE_SIZE).map((object) => object.name),
    isSinceRecover,
  };
}

/** "a, b, c and 5 more" */
export function sampleOf(names: readonly string[], count = names.length): string {
  const shown = names.slice(0, SAMPLE_SIZE).join(', ');
  return count > SAMPLE_SIZE ? `${shown} and ${count - SAMPLE_SIZE} more` : shown;
}

/**
 * One line for the log and for `gc`: what was kept, why it may matter, and what to do. Deleting them is
 * never automatic (a cron `gc` on a store whose catalog was put back would delete the newer catalog's packs).
 */
export function describeKeptPacks(kept: KeptPacks, location: string): string {
  const isOne = kept.count === 1;
  const [is, they, them] = isOne ? ['is', 'it', 'it'] : ['are', 'they', 'them'];
  const what = `${kept.count} pack${isOne ? '' : 's'} (${kept.bytes} bytes) in ${location} ${is}`;
  const names = sampleOf(kept.sampleNames, kept.count);
  const deletion = `\`cpsbackup-server gc --delete-unknown-packs\` deletes ${them}`;
  if (kept.isSinceRecover) {
    return `${what} not in the catalog \`recover\` installed (${names}): kept, as ${they} may hold backups the recovered catalog lacks `
      + `(a newer snapshot that did not open, a drill beside a live server). Run \`cpsbackup-server check\` first; ${deletion}`;
  }
  return `${what} in no catalog row and no crash of this store left ${them} (${names}): this catalog may be older than the store `
    + `(a store folder or catalog.db put back from a copy, a disk snapshot rolled back), and ${they} may hold backups it does not know. `
    + 'Kept; if a newer catalog may exist, stop here and, with this catalog moved away, rebuild it with `cpsbackup-server recover` '
    + `(an encrypted bucket); only when none can, ${deletion}`;
}
