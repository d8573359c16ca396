// A full disk is the operator's to fix: one typed error naming the file, whichever write hit it.
import { DiskFullError } from '../../common/errors';

export function translateWriteError(error: unknown, path: string): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new DiskFullError(`store is full: cannot write ${path} (${code})`, { cause: error });
  }
  return error as Error;
}
