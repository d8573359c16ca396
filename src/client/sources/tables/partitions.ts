// PostgreSQL partitioned tables, as pg_dump sees them: a partitioned table holds no rows, its leaf
// partitions (ordinary tables attached to it, at any depth) do, and each leaf is dumped as a table of its own.
import type { TableInfo } from './catalog';

/** Each partitioned table's leaf partitions (at any depth), by name, from the catalog as read. */
export function partitionLeaves(tables: readonly TableInfo[]): Map<string, TableInfo[]> {
  const leaves = new Map<string, TableInfo[]>(tables.filter((table) => table.isPartitioned === true).map((table) => [table.name, []]));
  for (const table of tables.filter((candidate) => candidate.isPartitioned !== true)) {
    for (const ancestor of table.partitionOf ?? []) leaves.get(ancestor)?.push(table);
  }
  return leaves;
}

/** The tables holding `table`'s rows: its leaves when it is partitioned, else the table itself. */
export function rowTablesOf(table: TableInfo, leaves: ReadonlyMap<string, readonly TableInfo[]>): readonly TableInfo[] {
  return table.isPartitioned === true ? leaves.get(table.name) ?? [] : [table];
}

/**
 * The partitioned tables a dump depends on, each with its own partitions (leaves and partitioned ones, one
 * level down) when the catalog was read: the ancestors of the dumped leaves, `named` (those storage.conf
 * chose, so a leaf created under one that had none is not missed either), and every partitioned table under
 * them, so each level of their trees is there. The dump checks them again in its snapshot
 * (pg-partition-check.ts) and records them in its header, those the configuration leaves out included: a
 * load tells a partition dropped or detached in the source since from one left out (pg-partition-sync.ts).
 */
export function partitionsOfDump(tables: readonly TableInfo[], named: readonly TableInfo[],
  catalogTables: readonly TableInfo[]): Map<string, string[]> {
  const roots = new Set([...tables.flatMap((table) => table.partitionOf ?? []),
    ...named.filter((table) => table.isPartitioned === true).map((table) => table.name)]);
  const below = catalogTables.filter((table) => table.isPartitioned === true && (table.partitionOf ?? []).some((ancestor) => roots.has(ancestor)));
  const partitions = new Map<string, string[]>([...roots, ...below.map((table) => table.name)].map((name) => [name, []]));
  for (const table of catalogTables) {
    const parent = table.partitionOf?.[0];
    if (parent !== undefined) partitions.get(parent)?.push(table.name);
  }
  return partitions;
}
