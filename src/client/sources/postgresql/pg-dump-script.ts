// The psql script that writes data.sql: one REPEATABLE READ, READ ONLY transaction (one snapshot
// for every table), each table as a header line, a COPY line, COPY's text rows and `\.`.
import { dataLine, endLine, sectionHeaderOf, tableLine } from '../tables/data-headers';
import type { DataHeader } from '../tables/data-format';
import { SEQUENCE_LINE } from '../tables/data-format';
import type { DatabaseSource } from '../storage-config';
import type { TablePlan } from '../tables/table-plan';
import { partitionCheck } from './pg-partition-check';
import { columnList, qualifiedName, quoteIdentifier, quoteLiteral, ROW_SECURITY_OFF, SESSION_TIMEOUTS } from './pg-sql';

/**
 * `freeSequences`: sequences no column owns that are dumped besides the tables' own (a restore into an
 * empty database would otherwise restart them at their start value).
 */
export function pgDataDumpScript(source: DatabaseSource, plans: readonly TablePlan[], header: DataHeader, freeSequences: readonly string[] = [],
  partitions: ReadonlyMap<string, readonly string[]> = new Map()): string {
  const lines = [
    SESSION_TIMEOUTS,
    ROW_SECURITY_OFF,
    // Read only and repeatable read: what pg_dump does; writers are never blocked, every COPY sees one snapshot.
    'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;',
    ...(partitions.size === 0 ? [] : [partitionCheck(source.schema, partitions)]),
    `SELECT ${quoteLiteral(dataLine(header))};`,
  ];
  for (const plan of plans) {
    const section = sectionHeaderOf(source, plan);
    const table = qualifiedName(source.schema, plan.table.name);
    const columns = columnList(section.columns);
    lines.push(`SELECT ${quoteLiteral(`${tableLine(section)}\nCOPY ${table} (${columns}) FROM stdin;`)};`);
    const where = section.since === undefined || plan.sinceColumn === undefined ? '' : ` WHERE ${quoteIdentifier(section.since.column)} >= `
      + `${quoteLiteral(section.since.mark)}::${plan.sinceColumn.type} - ${plan.sinceColumn.valueClass === 'time'
        ? `interval '${section.since.overlap} seconds'` : String(section.since.overlap)}`;
    // ONLY: a table's own rows. Without it a parent of INHERITS children (ordinary tables, dumped in their
    // own sections) returned their rows too, loaded twice. Partitioned tables, whose rows are all their
    // partitions', never reach here: each leaf partition is a plan of its own (table-plan.ts).
    lines.push(`COPY (SELECT ${columns} FROM ONLY ${table}${where}) TO STDOUT;`);
    lines.push(`SELECT '\\.';`);
  }
  for (const sequence of new Set([...plans.flatMap((plan) => plan.table.sequences), ...freeSequences])) {
    lines.push(`SELECT ${quoteLiteral(SEQUENCE_LINE)} || json_build_object('name', ${quoteLiteral(sequence)}, `
      + `'lastValue', last_value::text, 'isCalled', is_called)::text FROM ${sequence};`);
  }
  lines.push(`SELECT ${quoteLiteral(endLine(plans.length))};`, 'COMMIT;', '');
  return lines.join('\n');
}
