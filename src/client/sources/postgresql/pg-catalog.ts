// Reads a schema's tables from pg_catalog as one JSON answer (columns, primary keys, foreign-key
// parents, owned sequences), and each since_field's largest value as JSON lines.
import { LARGE_OBJECTS_COUNTED, type ColumnInfo, type DatabaseCatalog, type SchemaLeftOut, type TableInfo, type ValueClass } from '../tables/catalog';
import type { TablePlan } from '../tables/table-plan';
import { qualifiedName, quoteIdentifier, quoteLiteral, ROW_SECURITY_OFF } from './pg-sql';
import { schemasLeftOutExpression } from './pg-schemas-left-out';

/**
 * Ordinary and partitioned tables, partitions among them: a leaf partition is an ordinary table that
 * holds its share of its partitioned ancestors' rows (partitionOf, nearest first), dumped as a table of
 * its own as pg_dump does; a partitioned table holds none. partitionsElsewhere: a partition tree
 * reaching into another schema, whose rows this schema's dump would not all hold. Views and foreign
 * tables (foreign partitions too, as pg_dump without --include-foreign-data) hold no rows of their own.
 * Sequences: a table's are those its columns own (serial, identity) and
 * those its defaults read (`DEFAULT nextval('x')` without OWNED BY); freeSequences are the schema's
 * that no column owns, some of which no default reads either (an application's nextval()).
 * isOidType: oid, or a domain or array of it, through any chain of them (lo; lo[]; a domain over lo): the
 * set of such types is found once (oid_types), not per column, which doubled the query on big schemas.
 * largeObjects: counted up to one past LARGE_OBJECTS_COUNTED, since whether there are any is all the
 * plan needs (count(*) read all of pg_largeobject_metadata: 65-93 ms for 2 million).
 * isRowFiltered: a row-level security policy applies to this session's role (neither superuser, nor
 * BYPASSRLS, nor the owner of a table without FORCE), so it would see only the rows the policy lets it.
 * isOwnedByRole: this role owns the table (or is a member of its owner): only FORCE puts it under the policies.
 * schemasLeftOut: asked for a source that names neither schema nor tables (pg-schemas-left-out.ts).
 */
export function catalogQuery(schema: string, asksSchemasLeftOut: boolean): string {
  return `WITH RECURSIVE oid_types(type) AS (
    SELECT 'oid'::regtype::oid
    UNION SELECT t.oid FROM pg_type t JOIN oid_types o ON (t.typtype = 'd' AND t.typbasetype = o.type) OR (t.typcategory = 'A' AND t.typelem = o.type))
SELECT json_build_object(
  'schemaExists', EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = ${quoteLiteral(schema)}),
  'role', current_user,
  'schemasLeftOut', ${asksSchemasLeftOut ? schemasLeftOutExpression(quoteLiteral(schema)) : 'NULL'},
  'largeObjects', (SELECT count(*) FROM (SELECT 1 FROM pg_catalog.pg_largeobject_metadata LIMIT ${LARGE_OBJECTS_COUNTED + 1}) AS counted),
  'tables', coalesce((SELECT json_agg(t ORDER BY t.name) FROM (
    SELECT c.relname AS name, c.relkind = 'p' AS "isPartitioned", row_security_active(c.oid) AS "isRowFiltered",
      pg_has_role(c.relowner, 'USAGE') AS "isOwnedByRole",
      (SELECT coalesce(json_agg(a.relname ORDER BY p.position), '[]') FROM pg_partition_ancestors(c.oid) WITH ORDINALITY AS p(relid, position)
        JOIN pg_class a ON a.oid = p.relid WHERE p.relid <> c.oid) AS "partitionOf",
      (SELECT coalesce(json_agg(DISTINCT format('%I.%I', en.nspname, e.relname)), '[]')
        FROM (SELECT relid FROM pg_partition_ancestors(c.oid) UNION SELECT relid FROM pg_partition_tree(c.oid)) AS tree
        JOIN pg_class e ON e.oid = tree.relid JOIN pg_namespace en ON en.oid = e.relnamespace
        WHERE e.relnamespace <> c.relnamespace AND e.relkind IN ('r', 'p') OR e.relkind = 'f') AS "partitionsElsewhere",
      (SELECT coalesce(json_agg(DISTINCT pa.attname), '[]') FROM pg_partition_ancestors(c.oid) AS anc(relid)
        JOIN pg_partitioned_table pt ON pt.partrelid = anc.relid
        JOIN pg_attribute pa ON pa.attrelid = anc.relid AND pa.attnum > 0 AND NOT pa.attisdropped
        -- A key column, or one an expression key names (by its text: one more column refused at worst).
        WHERE pa.attnum = ANY (pt.partattrs::int2[])
          OR position(quote_ident(pa.attname) IN coalesce(pg_get_expr(pt.partexprs, pt.partrelid), '')) > 0) AS "partitionKey",
      (SELECT coalesce(json_agg(json_build_object(
          'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), 'baseType', bt.typname,
          'isGenerated', a.attgenerated <> '', 'isNullable', NOT a.attnotnull, 'isOidType', a.atttypid IN (SELECT type FROM oid_types),
          'sequence', pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname)) ORDER BY a.attnum), '[]')
        FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
        JOIN pg_type bt ON bt.oid = CASE WHEN ty.typtype = 'd' THEN ty.typbasetype ELSE ty.oid END
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
      (SELECT coalesce(json_agg(a.attname ORDER BY k.position), '[]') FROM pg_constraint p
        CROSS JOIN LATERAL unnest(p.conkey) WITH ORDINALITY AS k(attnum, position)
        JOIN pg_attribute a ON a.attrelid = p.conrelid AND a.attnum = k.attnum
        WHERE p.conrelid = c.oid AND p.contype = 'p') AS "primaryKey",
      (SELECT coalesce(json_agg(DISTINCT f.relname), '[]') FROM pg_constraint r JOIN pg_class f ON f.oid = r.confrelid
        WHERE r.conrelid = c.oid AND r.contype = 'f' AND f.relnamespace = c.relnamespace AND f.oid <> c.oid) AS parents,
      (SELECT coalesce(json_agg(DISTINCT format('%I.%I', sn.nspname, s.relname)), '[]') FROM pg_attrdef ad
        JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid AND d.refclassid = 'pg_class'::regclass
        JOIN pg_class s ON s.oid = d.refobjid AND s.relkind = 'S' JOIN pg_namespace sn ON sn.oid = s.relnamespace
        WHERE ad.adrelid = c.oid) AS "defaultSequences"
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ${quoteLiteral(schema)} AND c.relkind IN ('r', 'p')) t), '[]'),
  'freeSequences', coalesce((SELECT json_agg(format('%I.%I', n.nspname, s.relname) ORDER BY s.relname)
    FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace
    WHERE n.nspname = ${quoteLiteral(schema)} AND s.relkind = 'S' AND NOT EXISTS (SELECT 1 FROM pg_depend d
      WHERE d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))), '[]'))`;
}

interface RawColumn {
  name: string;
  type: string;
  baseType: string;
  isGenerated: boolean;
  isNullable: boolean;
  isOidType: boolean;
  sequence: string | null;
}

interface RawTable {
  name: string;
  isPartitioned: boolean;
  isRowFiltered: boolean;
  isOwnedByRole: boolean;
  partitionOf: string[];
  partitionsElsewhere: string[];
  partitionKey: string[];
  columns: RawColumn[];
  primaryKey: string[];
  parents: string[];
  defaultSequences: string[];
}

const CLASSES: Readonly<Record<string, ValueClass>> = {
  timestamp: 'time', timestamptz: 'time', date: 'time', int2: 'integer', int4: 'integer', int8: 'integer',
  numeric: 'decimal', float4: 'float', float8: 'double', bool: 'boolean', bytea: 'binary',
};

/** Undefined when the schema does not exist. */
export function parseCatalog(answer: string): DatabaseCatalog | undefined {
  const parsed = JSON.parse(answer) as {
    schemaExists: boolean; role: string; largeObjects: number; tables: RawTable[]; freeSequences: string[]; schemasLeftOut: SchemaLeftOut[] | null;
  };
  if (!parsed.schemaExists) return undefined;
  const raw = new Map(parsed.tables.map((table) => [table.name, table]));
  const tables: TableInfo[] = parsed.tables.map((table) => ({
    name: table.name,
    columns: table.columns.map((column): ColumnInfo => ({
      name: column.name, type: column.type, valueClass: CLASSES[column.baseType] ?? 'text',
      isGenerated: column.isGenerated, isNullable: column.isNullable, isOidType: column.isOidType,
    })),
    primaryKey: table.primaryKey,
    parents: table.parents,
    // A partition's rows take its ancestors' sequences too (a row inserted through the parent gets the
    // parent's default, which an attached table lacks), and only partitions' sequences are dumped.
    sequences: [...new Set([table, ...table.partitionOf.flatMap((name) => raw.get(name) ?? [])].flatMap((owner) => [
      ...owner.columns.flatMap((column) => (column.sequence === null ? [] : [column.sequence])), ...owner.defaultSequences]))],
    isPartitioned: table.isPartitioned,
    partitionOf: table.partitionOf,
    partitionsElsewhere: table.partitionsElsewhere,
    partitionKey: table.partitionKey,
    isRowFiltered: table.isRowFiltered,
    isOwnedByRole: table.isOwnedByRole,
  }));
  return {
    tables, freeSequences: parsed.freeSequences, role: parsed.role, largeObjects: parsed.largeObjects,
    ...(parsed.schemasLeftOut === null ? {} : { schemasLeftOut: parsed.schemasLeftOut }),
  };
}

/**
 * One JSON line per table with a since_field: {"table": ..., "mark": largest value as text, or null}.
 * ONLY, as the dump reads it: an INHERITS child's newer rows would otherwise set the parent's mark.
 */
export function marksQuery(schema: string, plans: readonly TablePlan[]): string | undefined {
  const selects = plans.flatMap((plan) => (plan.sinceColumn === undefined ? [] : [
    `SELECT json_build_object('table', ${quoteLiteral(plan.table.name)}, 'mark', `
    + `(SELECT to_json(max(${quoteIdentifier(plan.sinceColumn.name)})) #>> '{}' FROM ONLY ${qualifiedName(schema, plan.table.name)}))::text`,
  ]));
  // Row security off: a mark read through a policy would be the largest value the role may see.
  return selects.length === 0 ? undefined : `${ROW_SECURITY_OFF}\n${selects.join('\nUNION ALL\n')};\n`;
}

export function parseMarks(answer: string): Map<string, string> {
  const marks = new Map<string, string>();
  for (const line of answer.split('\n')) {
    if (line.trim() === '') continue;
    const { table, mark } = JSON.parse(line) as { table: string; mark: string | null };
    if (mark !== null) marks.set(table, mark);
  }
  return marks;
}
