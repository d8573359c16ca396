// Restored dump files are data from a backup, not commands for this host. The database clients that
// load them (psql, mariadb, sqlite3) also obey client commands in their input: psql's `\! cmd`, mariadb's
// `system cmd`, sqlite3's `.shell cmd`. A dump written by another client (a receiver loading another
// node's backups), or a backup tampered with, could then run commands here as the restoring user, often
// root. Each loader runs with its client's guard, and a client without one is refused rather than trusted.
import { isSuccess, startProcess } from '../child-process';

/** Whether `file` run with `args` exits 0 and prints `needle` (a tool's help listing an option it has). */
export async function toolPrints(file: string, args: readonly string[], needle: string): Promise<boolean> {
  const outcome = await startProcess(file, args, { stdin: 'ignore', stdout: 'collect', timeoutSeconds: 30 }).outcome;
  return isSuccess(outcome) && outcome.stdoutHead.includes(needle);
}
