// Names of packs: random, so two sessions, a compaction and a recovered server never collide.
import { randomBytes } from 'node:crypto';

export function newPackName(): string {
  return randomBytes(16).toString('hex');
}
