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
 * The partitioned tables a dump depends on, with the leaves each had when the catalog was read (the
 * dump checks them again in its snapshot: pg-dump-script.ts): the ancestors of the dumped leaves, and
 * `named` (those storage.conf chose), so a leaf created under one that had none is not missed either.
 */
export function partitionsOfDump(tables: readonly TableInfo[], named: readonly TableInfo[],
  leaves: ReadonlyMap<string, readonly TableInfo[]>): Map<string, string[]> {
  const partitions = new Map<string, string[]>();
  const ancestors = tables.flatMap((table) => table.partitionOf ?? []);
  for (const name of [...ancestors, ...named.filter((table) => table.isPartitioned === true).map((table) => table.name)]) {
    partitions.set(name, (leaves.get(name) ?? []).map((leaf) => leaf.name));
  }
  return partitions;
}
