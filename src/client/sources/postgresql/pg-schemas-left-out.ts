// The user schemas a source without `schema =` would leave out: it dumps schema public alone, so
// their objects would be missing from a backup that passed, unseen (pg_dump's own default is every schema).
import { shown } from '../../../common/config/display';
import type { SchemaLeftOut } from '../tables/catalog';

/** Object names shown per schema in the refusal; more are an ellipsis. */
const SHOWN_OBJECTS = 3;

/**
 * The catalogs whose rows live in a schema (relnamespace and the like): relations (tables, views,
 * sequences, indexes, foreign tables), types, functions, operators and what they need, collations,
 * conversions, text search configurations, extended statistics.
 */
const SCHEMA_OBJECTS: readonly (readonly [catalog: string, namespaceColumn: string])[] = [
  ['pg_class', 'relnamespace'], ['pg_type', 'typnamespace'], ['pg_proc', 'pronamespace'], ['pg_operator', 'oprnamespace'],
  ['pg_opclass', 'opcnamespace'], ['pg_opfamily', 'opfnamespace'], ['pg_collation', 'collnamespace'], ['pg_conversion', 'connamespace'],
  ['pg_ts_config', 'cfgnamespace'], ['pg_ts_dict', 'dictnamespace'], ['pg_ts_parser', 'prsnamespace'], ['pg_ts_template', 'tmplnamespace'],
  ['pg_statistic_ext', 'stxnamespace'],
];

/**
 * A JSON array of SchemaLeftOut (at most SHOWN_OBJECTS + 1 objects each), for the catalog query to hold:
 * every schema but `schemaLiteral` and the system's (pg_*: pg_catalog, pg_toast, pg_temp_N, a prefix no
 * user schema may take; information_schema) holding an object of its own. Not counted: objects of an extension (CREATE EXTENSION ... SCHEMA x, or a
 * schema the extension made, as PostGIS's topology), recreated by CREATE EXTENSION rather than dumped
 * (pg_depend deptype 'e'), objects internal to another (a table's row type and toast, an array type:
 * deptype 'i'), and objects that depend automatically on an extension's (deptype 'a': a plain index on
 * its table), which come with them. A table of the user's own in an extension's schema counts (review).
 */
export function schemasLeftOutExpression(schemaLiteral: string): string {
  const objects = SCHEMA_OBJECTS.map(([catalog, column]) => `SELECT '${catalog}'::regclass AS classid, oid AS objid FROM ${catalog} WHERE ${column} = n.oid`)
    .join(' UNION ALL ');
  const isMember = (classid: string, objid: string, deptypes: string): string =>
    `EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = ${classid} AND d.objid = ${objid} AND d.deptype IN (${deptypes}))`;
  // A plain index (or sequence) an extension's script makes on a table of its own is no member: it depends on that
  // table automatically (deptype 'a'), and comes with it.
  const isOfMember = (classid: string, objid: string): string =>
    `EXISTS (SELECT 1 FROM pg_depend d JOIN pg_depend m ON m.classid = d.refclassid AND m.objid = d.refobjid AND m.deptype = 'e'
      WHERE d.classid = ${classid} AND d.objid = ${objid} AND d.deptype = 'a')`;
  return `coalesce((SELECT json_agg(json_build_object('schema', s.nspname, 'objects', s.objects) ORDER BY s.nspname) FROM (
    SELECT n.nspname, (SELECT json_agg(shown.what) FROM (SELECT pg_describe_object(o.classid, o.objid, 0) AS what FROM (${objects}) AS o
        WHERE NOT ${isMember('o.classid', 'o.objid', "'e', 'i'")} AND NOT ${isOfMember('o.classid', 'o.objid')}
        ORDER BY o.classid <> 'pg_class'::regclass, 1 LIMIT ${SHOWN_OBJECTS + 1}) AS shown) AS objects
      FROM pg_namespace n
      WHERE n.nspname <> ${schemaLiteral} AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema') AS s
    WHERE s.objects IS NOT NULL), '[]')`;
}

/**
 * The refusal of a source without `schema =` (and without `tables =`) in a database with user schemas
 * beyond public: `where` is "storage.conf:LINE". undefined when there is none.
 */
export function schemasLeftOutRefusal(where: string, database: string, schema: string, leftOut: readonly SchemaLeftOut[]): string | undefined {
  if (leftOut.length === 0) return undefined;
  // Names as the catalog holds them, escaped: a newline in one would split the one-line message.
  const named = leftOut.map(({ schema: name, objects }) =>
    `${shown(name)} (${objects.slice(0, SHOWN_OBJECTS).map((object) => shown(object)).join(', ')}${objects.length > SHOWN_OBJECTS ? ', …' : ''})`);
  const names = leftOut.map((entry) => shown(entry.schema));
  return `${where}: database ${database} holds ${names.length === 1 ? 'schema' : 'schemas'} ${named.join(', ')} besides ${schema}, `
    + `and a source without "schema =" dumps schema ${schema} alone: ${names.length === 1 ? 'it' : 'they'} would be missing from the backup. `
    + `Back up each schema with a source of its own (schema = ${names[0]}), and set schema = ${schema} here to dump ${schema} alone`;
}
