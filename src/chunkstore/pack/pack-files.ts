// Names of packs: random, so two sessions, a compaction and a recovered server never collide.
import { randomBytes } from 'node:crypto';

/** Ends the name of a cover pack (cover-writer.ts): stored like a pack, deleted at once, never recorded. */
const COVER_SUFFIX = '.cover';

export function newPackName(): string {
  return randomBytes(16).toString('hex');
}

export function newCoverPackName(): string {
  return `${newPackName()}${COVER_SUFFIX}`;
}

export function isCoverPackName(name: string): boolean {
  return name.endsWith(COVER_SUFFIX);
}
