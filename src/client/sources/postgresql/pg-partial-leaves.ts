// A partial load over partitioned tables: every partition the target has under a dumped leaf's partitioned
// ancestors must be in the dump. Partials dump a partitioned table's leaves whole and mirror them, so a
// partition dropped or detached in the source since the complete backup is simply absent from the dump,
// and its rows would stay in the target, a state the source never had.
import { doBlock, quoteLiteral } from './pg-sql';

/** `tables`: the dumped tables' qualified names. Fails the load (inside its transaction) naming the partitions. */
export function partialLeavesCheck(tables: readonly string[]): string {
  const loaded = `ARRAY[${tables.map((table) => `${quoteLiteral(table)}::pg_catalog.regclass`).join(', ')}]`;
  return `${doBlock(`DECLARE missing text; BEGIN
  SELECT pg_catalog.string_agg(DISTINCT pg_catalog.format('%I.%I (a partition of %I.%I)', xn.nspname, x.relname, pn.nspname, p.relname), ', ') INTO missing
    FROM pg_catalog.unnest(${loaded}) AS l(relid)
    CROSS JOIN LATERAL pg_catalog.pg_partition_ancestors(l.relid) AS a(relid)
    JOIN pg_catalog.pg_class p ON p.oid = a.relid AND p.relkind = 'p' JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
    CROSS JOIN LATERAL pg_catalog.pg_partition_tree(p.oid) AS t
    JOIN pg_catalog.pg_class x ON x.oid = t.relid AND x.relkind <> 'p' JOIN pg_catalog.pg_namespace xn ON xn.oid = x.relnamespace
    -- Loaded, or under a loaded table partitioned here (it is mirrored whole, through its partitions).
    WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_partition_ancestors(x.oid) AS xa(relid) WHERE xa.relid = ANY (${loaded}));
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'not loaded: % here, not in this partial dump: dropped or detached in the source since its complete backup (their rows would stay here), or left out by tables / exclude_tables; load the complete backup again, or drop or detach them here first', missing;
  END IF;
END`)}\n`;
}
