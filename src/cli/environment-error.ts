// An error of the operator's environment that reached a CLI's top level: a full disk, a read-only, missing
// or forbidden path. One line (Node's message names the path where its call had one), never a stack.
const ENVIRONMENT_CODES: ReadonlySet<string> = new Set([
  'ENOSPC', 'EDQUOT', 'EACCES', 'EPERM', 'EROFS', 'ENOENT', 'ENOTDIR', 'EISDIR', 'EIO', 'ELOOP', 'ENAMETOOLONG', 'EMFILE', 'ENFILE', 'EEXIST', 'ENXIO',
]);

/** A system call's failure for one of those reasons (Node sets `syscall` on every fs and OS error); anything else keeps its stack. */
export function isEnvironmentError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { code, syscall } = error as NodeJS.ErrnoException;
  return typeof code === 'string' && ENVIRONMENT_CODES.has(code) && typeof syscall === 'string';
}
