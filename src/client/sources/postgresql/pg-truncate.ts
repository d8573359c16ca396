// The TRUNCATE that empties the tables a complete load replaces, with the partitioned tables whose
// leaves are all among them: PostgreSQL refuses to truncate a table that a foreign key references
// unless the referencing table is truncated with it, and a partitioned table's key is on the parent.
import { doBlock, quoteLiteral } from './pg-sql';

/**
 * `relations`: as the TRUNCATE names them (`ONLY "s"."t"`, or not for a table partitioned in the
 * target); `tables`: the same tables' qualified names. A partitioned table is added (without ONLY:
 * it is emptied through its partitions) only when every one of its leaves is loaded, so nothing the
 * dump does not hold is emptied; a key from one whose leaves are not all loaded still fails the load.
 * Any partition not loaded keeps it out, a foreign one too: TRUNCATE reaches a foreign partition's
 * remote table (postgres_fdw, PostgreSQL 14+), whose rows no dump holds.
 */
export function truncateStatement(relations: readonly string[], tables: readonly string[]): string {
  const loaded = `ARRAY[${tables.map((table) => `${quoteLiteral(table)}::pg_catalog.regclass`).join(', ')}]`;
  return `${doBlock(`DECLARE partitioned text; BEGIN
  SELECT pg_catalog.string_agg(pg_catalog.format('%I.%I', n.nspname, p.relname), ', ') INTO partitioned
    FROM pg_catalog.pg_class p JOIN pg_catalog.pg_namespace n ON n.oid = p.relnamespace
    WHERE p.relkind = 'p' AND p.oid IN (SELECT a.relid FROM pg_catalog.unnest(${loaded}) AS l(relid)
        CROSS JOIN LATERAL pg_catalog.pg_partition_ancestors(l.relid) AS a(relid))
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_partition_tree(p.oid) AS t JOIN pg_catalog.pg_class x ON x.oid = t.relid
        WHERE x.relkind <> 'p' AND x.oid <> ALL (${loaded}));
  EXECUTE ${quoteLiteral(`TRUNCATE ${relations.join(', ')}`)} || coalesce(', ' || partitioned, '');
END`)}\n`;
}
