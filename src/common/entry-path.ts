// Rules for the paths entries carry: absolute, '/'-separated, no '.' or '..' components, no NUL.
// Both the server (on receipt) and the restorer (before writing) apply them: a hostile peer gets neither past.

export function entryPathProblem(path: string): string | undefined {
  if (path.length === 0) return 'empty path';
  if (path.length > 4096) return 'path longer than 4096 bytes';
  if (path.includes('\0')) return 'path contains a NUL byte';
  if (!path.startsWith('/')) return 'path is not absolute';
  if (path !== '/' && path.endsWith('/')) return 'path ends with "/"';
  const components = path.split('/').slice(1);
  if (path !== '/' && components.some((part) => part === '' || part === '.' || part === '..')) {
    return 'path has an empty, "." or ".." component';
  }
  return undefined;
}
