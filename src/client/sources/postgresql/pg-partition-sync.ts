// A load over existing tables makes the target's partition trees the source's, as far as the dump knows them
// (its header's `partitioned`, every partition of them at dump time, those the configuration leaves out too).
import type { DataHeader } from '../tables/data-format';
import { LOAD_WARNING } from '../tables/load-warnings';
import { doBlock, quoteLiteral } from './pg-sql';

/**
 * Between a complete backup and a later one, a partition may leave the source's tree: dropped, or detached
 * (then dumped as a table of its own when the configuration selects it). Left attached here, a dropped
 * one's rows stayed in its parent, and a detached one's rows went back in under its parent, or failed its
 * partition bound. Each partition here of a recorded partitioned table that the source's does not have is
 * detached here, so the parent's rows are the source's; nothing is dropped: such a partition may be one the
 * source dropped, or one made here (a receiver's own, an archive), and a load over existing tables removes no
 * table the dump does not hold. One the dump does not hold is kept with its rows and named in a warning (the
 * load's output: load-warnings.ts); a dumped one is loaded as the table it is in the source. Only partitions of
 * recorded tables are detached: a partitioned table the dump does not record is not the source's to judge
 * (one detached from a recorded table here keeps its own partitions). A partition of a recorded table in the
 * source is never touched, loaded or left out. A dumped table that is a partition in the source but not here
 * (attached since) fails the load, named: its rows would be outside its parent here.
 * Runs once the rows the load deletes are gone (a foreign key into a detached partition's rows fails the
 * DETACH) and before any row goes in (a detached table's rows may be outside its old bound).
 * Undefined for dumps that do not record their partitioned tables: nothing is changed, as before.
 */
export function partitionSync(schema: string, header: DataHeader): string | undefined {
  if (header.partitioned === undefined) return undefined;
  const json = (value: unknown): string => `${quoteLiteral(JSON.stringify(value))}::pg_catalog.jsonb`;
  const parents = json(Object.fromEntries(header.partitioned.map((entry) => [entry.table, entry.partitions])));
  const dumped = json(header.tables.map((table) => table.table));
  return `${doBlock(`DECLARE
  source_partitions pg_catalog.jsonb := ${parents};
  dumped pg_catalog.jsonb := ${dumped};
  schema_oid pg_catalog.oid := (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = ${quoteLiteral(schema)});
  r record;
  refused text;
  row_count bigint;
BEGIN
  SELECT pg_catalog.string_agg(pg_catalog.format('%I.%I, a partition of %I.%I', ${quoteLiteral(schema)}, s.child, ${quoteLiteral(schema)}, e.parent), '; ')
    INTO refused
    FROM pg_catalog.jsonb_each(source_partitions) AS e(parent, children)
    CROSS JOIN LATERAL pg_catalog.jsonb_array_elements_text(e.children) AS s(child)
    JOIN pg_catalog.pg_class p ON p.relname = e.parent AND p.relnamespace = schema_oid AND p.relkind = 'p'
    JOIN pg_catalog.pg_class c ON c.relname = s.child AND c.relnamespace = schema_oid
    WHERE dumped ? s.child AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid AND i.inhparent = p.oid);
  IF refused IS NOT NULL THEN
    RAISE EXCEPTION 'not loaded: % in the source, not here (attached there since this database was loaded): its rows would be outside its partitioned table here; attach it here as it is there (ALTER TABLE ... ATTACH PARTITION ... FOR VALUES ...) and load again, or load a complete backup into an empty database',
      refused;
  END IF;
  FOR r IN SELECT t.relname::text AS parent, n.relname::text AS child
    FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class n ON n.oid = i.inhrelid JOIN pg_catalog.pg_class t ON t.oid = i.inhparent
    WHERE t.relkind = 'p' AND t.relnamespace = schema_oid AND n.relnamespace = schema_oid
      AND source_partitions ? t.relname::text AND NOT (source_partitions -> t.relname::text) ? n.relname::text
    ORDER BY 1, 2
  LOOP
    EXECUTE pg_catalog.format('ALTER TABLE %I.%I DETACH PARTITION %I.%I', ${quoteLiteral(schema)}, r.parent, ${quoteLiteral(schema)}, r.child);
    IF NOT dumped ? r.child THEN
      EXECUTE pg_catalog.format('SELECT count(*) FROM %I.%I', ${quoteLiteral(schema)}, r.child) INTO row_count;
      RAISE WARNING '${LOAD_WARNING}%: a partition of % here but not in the source: detached, kept as a table with its %; drop it if it is not needed',
        pg_catalog.format('%I.%I', ${quoteLiteral(schema)}, r.child), pg_catalog.format('%I.%I', ${quoteLiteral(schema)}, r.parent),
        CASE row_count WHEN 1 THEN '1 row' ELSE row_count || ' rows' END;
    END IF;
  END LOOP;
END`)}\n`;
}
