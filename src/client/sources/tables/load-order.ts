// The order tables are loaded in: parents before children, from the catalog's foreign keys;
// tables named in `order =` come first, in that order (the operator knows cycles and triggers).

export interface OrderedTable {
  readonly name: string;
  readonly parents: readonly string[];
}

/**
 * Returns every table's name once. Unlisted tables follow the listed ones, each after the parents
 * among them (depth-first, by name, so the order is stable from one backup to the next). A foreign-key
 * cycle is broken at the table met first by name: loading it may then need `order =` or fail loudly.
 */
export function loadOrder(tables: readonly OrderedTable[], order: readonly string[]): string[] {
  const byName = new Map(tables.map((table) => [table.name, table]));
  const placed = new Set<string>();
  const result: string[] = [];
  for (const name of order) {
    if (byName.has(name) && !placed.has(name)) {
      placed.add(name);
      result.push(name);
    }
  }
  const visiting = new Set<string>();
  const visit = (name: string): void => {
    if (placed.has(name) || visiting.has(name)) return;
    visiting.add(name);
    for (const parent of [...(byName.get(name)?.parents ?? [])].sort()) {
      if (byName.has(parent)) visit(parent);
    }
    visiting.delete(name);
    placed.add(name);
    result.push(name);
  };
  for (const name of [...byName.keys()].sort()) visit(name);
  return result;
}
