// Plans a postgresql or mariadb source's dumpers: reads the catalog, checks storage.conf against it,
// records each since_field's mark as a label, then schema.sql (complete only), data.sql and, for
// MariaDB, triggers.jsonl (complete only) and routines.jsonl (complete, whole database only).
import { DumpFailedError } from '../../common/errors';
import { dialectOf } from './database-dialects';
import type { DumpPlan } from './dump-plan';
import { isPartialDump } from './dump-plans';
import { baseLabelsOf } from './partial-base';
import type { DatabaseSource } from './storage-config';
import { DATA_FILE_NAME, ROUTINES_FILE_NAME, SCHEMA_FILE_NAME, TRIGGERS_FILE_NAME } from './tables/data-format';
import type { FailureFactory } from './tables/dialect';
import { markLabel } from './tables/marks';
import { planTables } from './tables/table-plan';
import type { ToolCommand } from './tables/tool-command';

export interface SourcePlan {
  readonly plans: readonly DumpPlan[];
  readonly labels: Readonly<Record<string, string>>;
  /** Removes the credential files once the dumpers are done. */
  readonly cleanup?: () => Promise<void>;
}

export async function planDatabaseDumps(source: DatabaseSource, partialSince: Date | undefined, workDirectory: string): Promise<SourcePlan> {
  const fail: FailureFactory = (message, stderrTail = '') => new DumpFailedError(source.name, message, stderrTail);
  const connection = await dialectOf(source.kind).connect(source, workDirectory, fail);
  try {
    const isPartial = isPartialDump(source, partialSince);
    const catalog = await connection.readCatalog();
    const plans = planTables(source, catalog, { isPartial, baseLabels: baseLabelsOf(partialSince) });
    if (plans.length === 0) {
      throw fail(`${source.file}:${source.line}: no table to dump in ${source.database}${source.kind === 'postgresql' ? ` (schema ${source.schema})` : ''}`);
    }
    // Read before the dump's snapshot, so a mark never passes a row the dump misses.
    const marks = await connection.readMarks(plans);
    const labels: Record<string, string> = {};
    for (const plan of plans) {
      const mark = marks.get(plan.table.name);
      if (plan.sinceColumn !== undefined && mark !== undefined) labels[markLabel(source.name, plan.table.name, plan.sinceColumn.name)] = mark;
    }
    const triggers = isPartial ? undefined : await connection.triggersDump?.(plans);
    const routines = isPartial ? undefined : await connection.routinesDump?.(plans);
    const dumps = [
      ...(isPartial ? [] : [dumpPlanOf(SCHEMA_FILE_NAME, connection.schemaDump(plans))]),
      dumpPlanOf(DATA_FILE_NAME, connection.dataDump(catalog, plans, isPartial ? 'partial' : 'complete')),
      ...(triggers === undefined ? [] : [dumpPlanOf(TRIGGERS_FILE_NAME, triggers)]),
      ...(routines === undefined ? [] : [dumpPlanOf(ROUTINES_FILE_NAME, routines)]),
    ];
    return { plans: dumps, labels, cleanup: () => connection.remove() };
  } catch (error) {
    await connection.remove();
    throw error;
  }
}

function dumpPlanOf(fileName: string, command: ToolCommand): DumpPlan {
  return { fileName, file: command.file, args: command.args, env: command.env, input: command.input };
}
