// Which paths to ask the server for so that a restore brings back every entry of a backup except its
// dumps: the highest entries with no dump at or below them. Pure: paths in, paths out (bytes).

const SLASH = '/';

/**
 * `entries` are a backup's paths (absolute, as bytes), `dumps` those to leave out. A folder holding a
 * dump somewhere below (the sender's work folder, or "/") is not asked for itself; its other children
 * are, and the restore brings the folders above each of them back with their metadata.
 */
export function rootsWithout(entries: readonly Buffer[], dumps: readonly Buffer[]): Buffer[] {
  // latin1 maps each byte to one character and back: names that are not UTF-8 survive.
  const holdsDump = new Set<string>();
  for (const dump of dumps) {
    for (let path = dump.toString('latin1'); ; path = parentOf(path)) {
      if (holdsDump.has(path)) break;
      holdsDump.add(path);
      if (path === SLASH) break;
    }
  }
  const chosen = new Set<string>();
  const roots: Buffer[] = [];
  const sorted = entries.map((entry) => entry.toString('latin1')).sort((a, b) => depthOf(a) - depthOf(b));
  for (const path of sorted) {
    if (holdsDump.has(path) || hasChosenAncestor(path, chosen)) continue;
    chosen.add(path);
    roots.push(Buffer.from(path, 'latin1'));
  }
  return roots;
}

function hasChosenAncestor(path: string, chosen: ReadonlySet<string>): boolean {
  for (let ancestor = parentOf(path); ; ancestor = parentOf(ancestor)) {
    if (chosen.has(ancestor)) return true;
    if (ancestor === SLASH) return false;
  }
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf(SLASH);
  return slash <= 0 ? SLASH : path.slice(0, slash);
}

function depthOf(path: string): number {
  let depth = 0;
  for (const character of path) if (character === SLASH) depth += 1;
  return path === SLASH ? 0 : depth;
}
