// schema.sql in pg_restore's two halves: pre-data (types, functions, tables, sequences, views) runs
// before the rows, post-data (indexes, constraints, triggers, rules, policies, REFRESH MATERIALIZED VIEW) after.
import { createReadStream } from 'node:fs';
import { byteLines } from '../tables/byte-lines';
import { LOAD_WARNING } from '../tables/load-warnings';
import { quoteIdentifier, quoteLiteral } from './pg-sql';

export type SchemaSection = 'pre-data' | 'post-data';

/**
 * pg_dump's post-data entry types (pg_dump.c, SECTION_POST_DATA). pg_dump sorts every pre-data entry
 * before every post-data one (its section boundaries), so the first entry of one of these types starts
 * post-data. Created before the rows, a trigger fired on each of them (one returning NULL dropped rows,
 * an audit trigger wrote rows of its own), a foreign key cycle could not load in any order, a NOT VALID
 * constraint refused the old rows it was added over, and a populated materialized view stayed empty.
 */
const POST_DATA_TYPES = new Set([
  'INDEX', 'INDEX ATTACH', 'STATISTICS', 'CONSTRAINT', 'FK CONSTRAINT', 'CHECK CONSTRAINT', 'TRIGGER', 'EVENT TRIGGER',
  'RULE', 'POLICY', 'ROW SECURITY', 'MATERIALIZED VIEW DATA', 'PUBLICATION', 'PUBLICATION TABLE',
  'PUBLICATION TABLES IN SCHEMA', 'SUBSCRIPTION', 'SUBSCRIPTION TABLE', 'DEFAULT ACL',
]);

/** The comment line pg_dump writes before each entry: `-- Name: x; Type: INDEX; Schema: public; Owner: -`. */
const ENTRY_LINE = /^-- Name: .*; Type: ([A-Z ]+); Schema: [^;]*; Owner: [^;]*$/;

const REFRESH_LINE = /^REFRESH MATERIALIZED VIEW (.+);$/;
const REFRESH_TAG = '$cpsbackup_refresh$';

/**
 * A view's REFRESH that cannot fail the load: one whose query calls a function naming a table unqualified
 * fails under schema.sql's search_path '' (pg_restore reports it and goes on); in the load's one
 * transaction it rolled back every table (review). The view is left unpopulated, with a warning, as
 * before REFRESH was dumped at all. Undefined for any other line.
 */
function refreshOrWarn(text: string): string | undefined {
  const name = REFRESH_LINE.exec(text)?.[1];
  if (name === undefined || text.includes(REFRESH_TAG)) return undefined;
  return `DO ${REFRESH_TAG} BEGIN ${text} EXCEPTION WHEN OTHERS THEN `
    + `RAISE WARNING '${LOAD_WARNING}materialized view % left unpopulated: %', ${quoteLiteral(name)}, SQLERRM; END ${REFRESH_TAG};`;
}

/** pg_dump's own restricted-mode lines (15.14 and later): the load's own mode covers the whole script. */
const PG_DUMP_RESTRICT_LINE = /^\\(un)?restrict [A-Za-z0-9]+$/;

/**
 * One half of schema.sql as pg_dump wrote it, but for its own \restrict and \unrestrict lines (the script's
 * mode covers it, and psql allows no second \restrict inside the first) and its `CREATE SCHEMA name;`
 * (pg_dump -n writes it even for public, which every database has): IF NOT EXISTS, so the schema may
 * already be there. Only the first such line, which pg_dump puts before any function body that could
 * hold the same text. An entry starts at the `--` line above its Name line, after an empty line: the
 * three lines pg_dump writes, which a function body would have to repeat exactly to move the split.
 * A schema.sql of `pg_dump --schema-only` (older backups) splits the same way; it holds no REFRESH.
 */
export async function* schemaSection(path: string, schema: string, section: SchemaSection): AsyncGenerator<Buffer | string> {
  const createSchema = new Set([`CREATE SCHEMA ${schema};`, `CREATE SCHEMA ${quoteIdentifier(schema)};`]);
  let isRewritten = false;
  let isPostData = false;
  // The last two lines, held back until it is known whether an entry of post-data starts with them.
  let held: Buffer[] = [];
  for await (const line of byteLines(createReadStream(path))) {
    const text = line.length < 300 ? line.toString('utf8') : undefined;
    if (text !== undefined && PG_DUMP_RESTRICT_LINE.test(text)) continue;
    if (!isPostData && text !== undefined) {
      const type = ENTRY_LINE.exec(text)?.[1];
      if (type !== undefined && POST_DATA_TYPES.has(type) && held.length === 2 && held[0].length === 0 && held[1].toString('utf8') === '--') {
        isPostData = true;
        const [blank, dashes] = held;
        held = [];
        if (section === 'pre-data') {
          yield blank;
          yield '\n';
          return;
        }
        yield dashes;
        yield '\n';
      }
    }
    if (isPostData) {
      if (section === 'post-data') {
        yield (text === undefined ? undefined : refreshOrWarn(text)) ?? line;
        yield '\n';
      }
      continue;
    }
    held.push(line);
    if (held.length <= 2) continue;
    const out = held.shift() as Buffer;
    if (section !== 'pre-data') continue;
    if (!isRewritten && out.length < 200 && createSchema.has(out.toString('utf8'))) {
      isRewritten = true;
      yield `CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)};\n`;
      continue;
    }
    yield out;
    yield '\n';
  }
  if (section === 'pre-data') {
    for (const line of held) {
      yield line;
      yield '\n';
    }
  }
}
