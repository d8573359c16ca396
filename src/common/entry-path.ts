// Rules for the paths entries carry, as bytes: absolute, '/'-separated, no empty, '.' or '..'
// component, no NUL, components of at most 255 bytes (NAME_MAX). Both the server (on receipt) and the
// restorer (before writing) apply them: a hostile peer gets neither past. Paths longer than PATH_MAX
// (4096) are fine: the restorer works component by component.

/** Far beyond any real tree, small enough that one hostile entry cannot cost much memory. */
export const MAX_ENTRY_PATH_BYTES = 64 * 1024;
const NAME_MAX = 255;
const SLASH = 0x2f;
const DOT = 0x2e;

export function entryPathProblem(path: Uint8Array): string | undefined {
  if (path.length === 0) return 'empty path';
  if (path.length > MAX_ENTRY_PATH_BYTES) return `path longer than ${MAX_ENTRY_PATH_BYTES} bytes`;
  if (path.includes(0)) return 'path contains a NUL byte';
  if (path[0] !== SLASH) return 'path is not absolute';
  if (path.length === 1) return undefined;
  let start = 1;
  for (let index = 1; index <= path.length; index++) {
    if (index < path.length && path[index] !== SLASH) continue;
    const length = index - start;
    if (length === 0) return 'path has an empty component ("//" or a trailing "/")';
    if (length === 1 && path[start] === DOT) return 'path has a "." component';
    if (length === 2 && path[start] === DOT && path[start + 1] === DOT) return 'path has a ".." component';
    if (length > NAME_MAX) return `path has a component longer than ${NAME_MAX} bytes`;
    start = index + 1;
  }
  return undefined;
}
