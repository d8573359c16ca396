// The script the mariadb client runs to write data.sql: one REPEATABLE READ transaction started
// WITH CONSISTENT SNAPSHOT (InnoDB: every table seen at one instant), each table as a header line
// and one `INSERT ... VALUES (...);` line per row, rendered by the server and streamed (--quick).
import type { ColumnInfo } from '../tables/catalog';
import { dataLine, endLine, sectionHeaderOf, tableLine } from '../tables/data-headers';
import type { DataHeader } from '../tables/data-format';
import type { TablePlan } from '../tables/table-plan';
import type { DatabaseSource } from '../storage-config';
import { NOT_RENDERED_LINE } from './mariadb-dump-check';
import { DUMP_SQL_MODE, insertPrefix, quoteIdentifier, quoteLiteral, SESSION_SETTINGS } from './mariadb-sql';

const isEnum = (column: ColumnInfo): boolean => /^enum\(/i.test(column.type);

/**
 * Text QUOTE() can carry: the row is a utf8mb4 CONCAT, so any other character set is converted on the way,
 * which is not exact (sjis 5C came back as 815F) or fails (utf16, or latin1 beside cp1250: "Illegal mix
 * of collations"). Those go as `_<charset> X'<hex>'`: their own bytes, read back in their own charset.
 */
const UNICODE_CHARSETS = new Set(['utf8mb4', 'utf8mb3', 'utf8', 'ascii']);
const isUnicodeText = (column: ColumnInfo): boolean => column.charset === undefined || UNICODE_CHARSETS.has(column.charset);

/**
 * A column's value as SQL literal text, on one line: utf8mb4 text through QUOTE() with newlines and
 * carriage returns escaped (QUOTE leaves them raw), other text as _charset X'hex', binary as hex, FLOAT widened to DOUBLE (its
 * shortest text would lose digits), BIT as a number, NULL as the word NULL.
 */
export function renderValue(column: ColumnInfo): string {
  const name = quoteIdentifier(column.name);
  switch (column.valueClass) {
    case 'integer':
    case 'decimal':
    case 'double':
      return `IFNULL(CAST(${name} AS CHAR), 'NULL')`;
    case 'float':
      return `IFNULL(CAST(${name} + 0e0 AS CHAR), 'NULL')`;
    case 'bit':
      return `IFNULL(CAST(CAST(${name} AS UNSIGNED) AS CHAR), 'NULL')`;
    case 'binary':
      return `IF(${name} IS NULL, 'NULL', CONCAT('X''', HEX(${name}), ''''))`;
    default: {
      const text = isUnicodeText(column) ? `REPLACE(REPLACE(QUOTE(${name}), '\\n', '\\\\n'), '\\r', '\\\\r')`
        : `IF(${name} IS NULL, 'NULL', CONCAT(${quoteLiteral(`_${column.charset ?? 'binary'} X'`)}, HEX(${name}), ''''))`;
      // ENUM's error value '' (index 0, stored under a non-strict sql_mode) would not load: the row becomes NULL, the dump fails.
      return isEnum(column) ? `IF(${name} + 0 = 0, NULL, ${text})` : text;
    }
  }
}

function sinceCondition(plan: TablePlan, mark: string, overlap: number): string {
  const column = quoteIdentifier((plan.sinceColumn as ColumnInfo).name);
  switch ((plan.sinceColumn as ColumnInfo).valueClass) {
    case 'time':
      return `${column} >= CAST(${quoteLiteral(mark)} AS DATETIME(6)) - INTERVAL ${overlap} SECOND`;
    case 'integer':
      return `${column} >= CAST(${quoteLiteral(mark)} AS DECIMAL(65,0)) - ${overlap}`;
    default:
      return `${column} >= CAST(${quoteLiteral(mark)} AS DECIMAL(65,30)) - ${overlap}`;
  }
}

/**
 * What a row line becomes when CONCAT gives NULL for it: its result passed the server's max_allowed_packet
 * (NULL with only a warning), or an ENUM holds its error value. mariadb-dump-check.ts fails the dump on
 * this line, which names the row and says which: `enum:<column places>` or the max_allowed_packet.
 */
function notRenderedLine(plan: TablePlan): string {
  const keys = plan.table.primaryKey.map((key) => {
    const column = plan.table.columns.find((candidate) => candidate.name === key);
    return `${quoteLiteral(`${quoteIdentifier(key)} = `)}, ${column === undefined ? `CAST(${quoteIdentifier(key)} AS CHAR)` : renderValue(column)}`;
  });
  const key = keys.length === 0 ? "''" : `CONCAT(' (', ${keys.join(", ', ', ")}, ')')`;
  // By their places in the section's columns: a name could hold anything, the checker reads them from the header.
  const enums = plan.columns.map((column, index) => ({ column, index })).filter(({ column }) => isEnum(column));
  const errorValue = ({ column }: { column: ColumnInfo }): string => `${quoteIdentifier(column.name)} + 0 = 0`;
  const reason = enums.length === 0 ? '@@max_allowed_packet'
    : `IF(${enums.map(errorValue).join(' OR ')}, CONCAT('enum:', CONCAT_WS(',', `
      + `${enums.map((item) => `IF(${errorValue(item)}, '${item.index}', NULL)`).join(', ')})), @@max_allowed_packet)`;
  return `CONCAT(${quoteLiteral(`${NOT_RENDERED_LINE} `)}, ${reason}, ${key})`;
}

export function mariadbDataDumpScript(source: DatabaseSource, plans: readonly TablePlan[], header: DataHeader): string {
  // The server drops a client that does not read for net_write_timeout (60 s by default): a slow upload would.
  const waitSeconds = Math.min(source.timeoutSeconds, 31_536_000);
  const lines = [
    DUMP_SQL_MODE + SESSION_SETTINGS,
    `SET SESSION net_write_timeout = ${waitSeconds};`,
    'SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ;',
    'START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY;',
    `SELECT ${quoteLiteral(dataLine(header))};`,
  ];
  for (const plan of plans) {
    const section = sectionHeaderOf(source, plan);
    lines.push(`SELECT ${quoteLiteral(tableLine(section))};`);
    const values = plan.columns.map(renderValue).join(", ',', ");
    const where = section.since === undefined ? '' : ` WHERE ${sinceCondition(plan, section.since.mark, section.since.overlap)}`;
    // By primary key: the same rows come out in the same order each time (dedup), parents before children in one table.
    const order = plan.table.primaryKey.length === 0 ? '' : ` ORDER BY ${plan.table.primaryKey.map(quoteIdentifier).join(', ')}`;
    const row = `CONCAT(${quoteLiteral(`${insertPrefix(plan.table.name, section.columns)}(`)}, ${values}, ');')`;
    lines.push(`SELECT IFNULL(${row}, ${notRenderedLine(plan)}) FROM ${quoteIdentifier(plan.table.name)}${where}${order};`);
  }
  lines.push(`SELECT ${quoteLiteral(endLine(plans.length))};`, 'COMMIT;', '');
  return lines.join('\n');
}
