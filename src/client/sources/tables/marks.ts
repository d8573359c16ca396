// High-water marks: the largest since_field value of each table when a backup dumped it, kept in
// the backup's labels. The next partial dumps the rows at or past the mark minus an overlap.

const TIME_MARK = /^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}:\d{2}(\.\d{1,9})?)?([+-]\d{2}(:?\d{2})?|Z)?$/;
const NUMBER_MARK = /^-?\d{1,40}(\.\d{1,40})?$/;

/** `mark.<source>.<table>.<column>`: the column is part of the key, so a changed since_field starts over. */
export function markLabel(sourceName: string, table: string, column: string): string {
  return `mark.${sourceName}.${table}.${column}`;
}

/**
 * The base backup's mark for a table, or undefined when there is none (first backup, empty table,
 * another since_field) or it is not a value of the column's kind: then the whole table is dumped,
 * which is always safe. Marks are spliced into SQL, so only digits, dashes, colons and such pass.
 */
export function markOf(labels: Readonly<Record<string, string>> | undefined, sourceName: string, table: string,
  column: string, isTime: boolean): string | undefined {
  const value = labels?.[markLabel(sourceName, table, column)];
  if (value === undefined) return undefined;
  return (isTime ? TIME_MARK : NUMBER_MARK).test(value) ? value : undefined;
}
