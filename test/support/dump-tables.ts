// Helpers for the postgresql/mariadb source tests: read a dump stream whole, pick a table's rows
// out of data.sql text, and look for a secret in every running process's command line.
import { readdir, readFile } from 'node:fs/promises';

export async function readWhole(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * The row lines of `table` in a data.sql text: PostgreSQL's between the COPY line and `\.`,
 * MariaDB's `INSERT ...;` lines up to the next header line.
 */
export function sectionRows(text: string, table: string): string[] {
  const lines = text.split('\n');
  const start = lines.findIndex((line) => line.startsWith('-- cpsbackup-table ')
    && (JSON.parse(line.slice('-- cpsbackup-table '.length)) as { table: string }).table === table);
  if (start < 0) throw new Error(`no section for table ${table}`);
  const rows: string[] = [];
  const isCopy = lines[start + 1]?.startsWith('COPY ');
  for (let index = start + (isCopy ? 2 : 1); index < lines.length; index++) {
    const line = lines[index];
    if (isCopy ? line === '\\.' : line.startsWith('-- cpsbackup-')) break;
    if (line !== '' || isCopy) rows.push(line);
  }
  return rows;
}

/** `pid: command line` of every process whose argv holds `secret` (what ps shows to every user). */
export async function commandLinesContaining(secret: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
    const commandLine = await readFile(`/proc/${pid}/cmdline`).catch(() => Buffer.alloc(0));
    if (commandLine.includes(secret)) found.push(`${pid}: ${commandLine.toString('utf8').replaceAll('\0', ' ')}`);
  }
  return found;
}
