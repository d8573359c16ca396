// A backup id on the command line: a positive whole number the wire and the catalog carry exactly. Past
// 2^53 - 1 a JavaScript number rounds (another backup) and past 2^64 the wire refuses it as an internal error.
import { InvalidArgumentError } from 'commander';

/** The commander parser of every backup-id argument (cpsbackup -s, -i, -d, --protect, --unprotect, --diff; cpsbackup-server protect). */
export function backupIdArgument(value: string): number {
  const number = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(number >= 1)) throw new InvalidArgumentError('a backup id is a positive number, e.g. 3 or 0000003.');
  if (!Number.isSafeInteger(number)) throw new InvalidArgumentError(`a backup id is at most ${Number.MAX_SAFE_INTEGER}.`);
  return number;
}
