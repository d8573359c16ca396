// The start of the data dump's transaction when it reads partitions: the partitioned tables are locked
// as pg_dump locks what it dumps, then their partitions are checked against the catalog the plan was made from.
import { doBlock, qualifiedName, quoteLiteral } from './pg-sql';

/**
 * The plan dumps the leaves the catalog listed, read before this transaction: a partition created,
 * attached or detached in between would have its rows in no section (a new leaf), or in none that
 * schema.sql attaches where they were, so the dump fails naming it rather than lose them silently.
 * `partitions`: each partitioned table's partitions one level down (leaves and partitioned ones), as the
 * header records them; every partitioned table under one is in it too, so every level is checked.
 * ACCESS SHARE (LOCK recurses to every partition) lets writers on and keeps DETACH and DROP out until the
 * dump commits. LOCK takes no snapshot, so the check is the transaction's first snapshot: it reads the
 * catalog as it is now, and a partition attached after it holds no row the snapshot sees as the parent's.
 * Empty when the dump holds no partition.
 */
export function partitionCheck(schema: string, partitions: ReadonlyMap<string, readonly string[]>): string {
  if (partitions.size === 0) return '';
  const parents = [...partitions.keys()].map((parent) => qualifiedName(schema, parent));
  const checks = [...partitions].map(([parent, children]) => {
    const expected = `ARRAY[${children.map(quoteLiteral).join(', ')}]::text[]`;
    return `  SELECT coalesce(array_agg(c.relname::text ORDER BY c.relname::text), '{}') INTO current_leaves FROM pg_catalog.pg_partition_tree(${quoteLiteral(qualifiedName(schema, parent))}::pg_catalog.regclass) AS t
    JOIN pg_catalog.pg_class c ON c.oid = t.relid WHERE t.level = 1 AND c.relkind IN ('r', 'p');
  SELECT coalesce(array_agg(e ORDER BY e), '{}') INTO listed_leaves FROM unnest(${expected}) AS e;
  IF current_leaves IS DISTINCT FROM listed_leaves THEN
    RAISE EXCEPTION 'partitioned table %.% changed while the backup started: its partitions were % when the tables were read and are % now (a partition created, attached, detached or dropped); back up again',
      ${quoteLiteral(schema)}, ${quoteLiteral(parent)}, listed_leaves, current_leaves;
  END IF;`;
  });
  return `LOCK TABLE ${parents.join(', ')} IN ACCESS SHARE MODE;\n`
    + doBlock(`DECLARE current_leaves text[]; listed_leaves text[]; BEGIN\n${checks.join('\n')}\nEND`);
}
