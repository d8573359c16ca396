// schema.sql in the order mysqldump loads a dump: the tables (and views) before the rows, the
// triggers after them, so that no trigger fires on a loaded row.
import { createReadStream } from 'node:fs';
import { byteLines } from '../tables/byte-lines';

export type SchemaPart = 'tables' | 'triggers';

/** mariadb-dump / mysqldump write each trigger between these two client commands. */
const TRIGGER_START = 'DELIMITER ;;';
const TRIGGER_END = 'DELIMITER ;';

/**
 * `/*!50003` lines save, set and restore the session's charset and sql_mode around each trigger (the
 * tables' own lines are `/*!40101`); with --no-data, no routines and no events, only triggers have them.
 * A trigger's statement line, inside its DELIMITER pair, moves with the pair whole.
 */
const TRIGGER_SETTING = '/*!50003 ';

/** One part of schema.sql, lines kept in their order and bytes as dumped. */
export async function* schemaPart(path: string, part: SchemaPart): AsyncGenerator<Buffer | string> {
  let isInTrigger = false;
  for await (const line of byteLines(createReadStream(path))) {
    const text = line.length < 64 ? line.toString('utf8').trimEnd() : undefined;
    const isDelimiterStart = !isInTrigger && text === TRIGGER_START;
    if (isDelimiterStart) isInTrigger = true;
    const isTriggerLine = isInTrigger || line.subarray(0, TRIGGER_SETTING.length).toString('utf8') === TRIGGER_SETTING;
    if (isInTrigger && !isDelimiterStart && text === TRIGGER_END) isInTrigger = false;
    if (isTriggerLine === (part === 'triggers')) {
      yield line;
      yield '\n';
    }
  }
}
