// Entry paths as bytes: an absolute, '/'-separated path of the backup, split into the components a
// restore opens one by one. Anything that could climb or hide (.., ., empty, NUL, relative) is refused.
import { UnsafeEntryPathError } from './errors';

const SLASH = 0x2f;

export function toEntryPath(path: Buffer | string): Buffer {
  return typeof path === 'string' ? Buffer.from(path, 'utf8') : path;
}

/**
 * Splits an absolute entry path into its components; "/" gives none. Throws UnsafeEntryPathError for
 * '', a relative path, a NUL byte, an empty component ("//", a trailing "/"), "." or "..".
 */
export function splitEntryPath(path: Buffer | string): Buffer[] {
  const bytes = toEntryPath(path);
  if (bytes.length === 0) throw new UnsafeEntryPathError(bytes, 'empty path');
  if (bytes.includes(0)) throw new UnsafeEntryPathError(bytes, 'path contains a NUL byte');
  if (bytes[0] !== SLASH) throw new UnsafeEntryPathError(bytes, 'path is not absolute');
  if (bytes.length === 1) return [];
  const components: Buffer[] = [];
  let start = 1;
  for (let index = 1; index <= bytes.length; index++) {
    if (index < bytes.length && bytes[index] !== SLASH) continue;
    const component = bytes.subarray(start, index);
    if (component.length === 0) throw new UnsafeEntryPathError(bytes, 'path has an empty component ("//" or a trailing "/")');
    if (component.length === 1 && component[0] === 0x2e) throw new UnsafeEntryPathError(bytes, 'path has a "." component');
    if (component.length === 2 && component[0] === 0x2e && component[1] === 0x2e) {
      throw new UnsafeEntryPathError(bytes, 'path has a ".." component');
    }
    components.push(component);
    start = index + 1;
  }
  return components;
}

/** The inverse of splitEntryPath. */
export function joinEntryPath(components: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const component of components) parts.push(Buffer.from('/'), component);
  return parts.length === 0 ? Buffer.from('/') : Buffer.concat(parts);
}
