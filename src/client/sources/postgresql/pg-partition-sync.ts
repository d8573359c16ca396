// A load over existing tables makes the target's partition trees the source's, as far as the dump knows them
// (its header's `partitioned`, every partition of them at dump time, those the configuration leaves out too).
import type { DataHeader } from '../tables/data-format';
import { doBlock, quoteLiteral } from './pg-sql';

/**
 * Between a complete backup and a later one, a partition may leave the source's tree: dropped, or detached
 * (then dumped as a table of its own when the configuration selects it). Left attached here, a dropped
 * one's rows stayed in its parent, and a detached one's rows went back in under its parent, or failed its
 * partition bound. Each partition here that its parent does not have in the source is detached here; then
 * dropped when the source has no relation of its name any more (dropped there; a table detached there and left
 * out keeps its rows here). A partition of one recorded parent is never touched, loaded or left out. Under a
 * parent the source does not have any more (dropped with it), a dumped table or one the source still has
 * is detached first, so the DROP takes only what the source dropped. A dumped table that is a partition in
 * the source but not here (attached since) fails the load, named: its rows would be outside its parent here.
 * Runs once the rows the load deletes are gone (a foreign key into a detached partition's rows fails the
 * DETACH) and before any row goes in (a detached table's rows may be outside its old bound).
 * Undefined for dumps that do not record their partitioned tables: nothing is changed, as before.
 */
export function partitionSync(schema: string, header: DataHeader): string | undefined {
  if (header.partitioned === undefined) return undefined;
  const json = (value: unknown): string => `${quoteLiteral(JSON.stringify(value))}::pg_catalog.jsonb`;
  const parents = json(Object.fromEntries(header.partitioned.map((entry) => [entry.table, entry.partitions])));
  const dumped = json(header.tables.map((table) => table.table));
  // NULL without the list: no relation counts as gone from the source, so nothing is dropped (only detached).
  const sourceTables = header.schemaTables === undefined ? 'NULL::pg_catalog.jsonb' : json(header.schemaTables);
  const underRecorded = `EXISTS (SELECT 1 FROM pg_catalog.pg_partition_ancestors(t.oid) AS a(relid) JOIN pg_catalog.pg_class ac ON ac.oid = a.relid
        WHERE ac.relnamespace = schema_oid AND source_partitions ? ac.relname::text)`;
  return `${doBlock(`DECLARE
  source_partitions pg_catalog.jsonb := ${parents};
  dumped pg_catalog.jsonb := ${dumped};
  source_tables pg_catalog.jsonb := ${sourceTables};
  schema_oid pg_catalog.oid := (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = ${quoteLiteral(schema)});
  r record;
  refused text;
  gone text[] := '{}';
  gone_table text;
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
      AND CASE WHEN source_partitions ? t.relname::text THEN NOT (source_partitions -> t.relname::text) ? n.relname::text
        ELSE dumped ? n.relname::text AND (coalesce(source_tables ? t.relname::text, false) OR ${underRecorded})
          OR coalesce(NOT source_tables ? t.relname::text AND source_tables ? n.relname::text, false) AND ${underRecorded}
      END
    ORDER BY 1, 2
  LOOP
    EXECUTE pg_catalog.format('ALTER TABLE %I.%I DETACH PARTITION %I.%I', ${quoteLiteral(schema)}, r.parent, ${quoteLiteral(schema)}, r.child);
    IF source_partitions ? r.parent AND NOT dumped ? r.child AND coalesce(NOT source_tables ? r.child, false) THEN
      gone := gone || r.child;
    END IF;
  END LOOP;
  FOREACH gone_table IN ARRAY gone LOOP
    EXECUTE pg_catalog.format('DROP TABLE %I.%I', ${quoteLiteral(schema)}, gone_table);
  END LOOP;
END`)}\n`;
}
