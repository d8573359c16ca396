// Quoting for PostgreSQL text we generate: identifiers always double-quoted (exact case, any
// character), literals with standard_conforming_strings on (which every session here sets).

export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function quoteLiteral(text: string): string {
  if (text.includes('\0')) throw new Error('a PostgreSQL literal cannot hold a NUL character');
  return `'${text.replaceAll("'", "''")}'`;
}

export function qualifiedName(schema: string, table: string): string {
  return `${quoteIdentifier(schema)}.${quoteIdentifier(table)}`;
}

export function columnList(columns: readonly string[]): string {
  return columns.map(quoteIdentifier).join(', ');
}

/**
 * As pg_dump does: a dump waits on its reader (the FIFO is full while the upload is slow), and a
 * load may run long, so the server's timeouts for statements, locks and idle transactions are off.
 */
export const SESSION_TIMEOUTS = 'SET statement_timeout = 0;\nSET lock_timeout = 0;\nSET idle_in_transaction_session_timeout = 0;';

/**
 * As pg_dump does: a table whose row-level security applies to the role raises an error (naming the
 * table) instead of silently giving only the rows a policy lets the role see.
 */
export const ROW_SECURITY_OFF = 'SET row_security = off;';

/**
 * `DO $tag$ body $tag$;` with a tag the body does not hold: the body quotes names from a dump, and a
 * table named with the tag in it would otherwise end the block early.
 */
export function doBlock(body: string): string {
  let tag = '$cpsbackup$';
  for (let index = 1; body.includes(tag); index++) tag = `$cpsbackup${index}$`;
  return `DO ${tag} ${body} ${tag};`;
}
