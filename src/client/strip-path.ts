// `-i --strip N`: where an entry of the backup goes once its first N path components are dropped.
import { splitEntryPath } from './restore-tree/entry-path';

const SLASH = 0x2f;
const ROOT = Buffer.from('/');

/**
 * The entry path with the first `strip` components dropped; "/" (the restore target itself) for an entry
 * of exactly `strip` components, the folder the restore is taken from (only a folder can be the target:
 * isStrippedToTarget); undefined for an entry above it (one of the folders the strip drops). The folder
 * at the cut mapped to undefined too, so its mode, owner, ACLs and times were dropped with exit 0.
 * Whole components only, of a path the restore would take unstripped: an UnsafeEntryPathError (splitEntryPath)
 * for any other. Regression: "/../x" and "//x" became "/x" (two spellings on one file) and "/x/" the target itself.
 */
export function strippedPath(path: Buffer, strip: number): Buffer | undefined {
  if (strip === 0) return path;
  const components = splitEntryPath(path);
  if (components.length < strip) return undefined;
  if (components.length === strip) return ROOT;
  // Valid: every component is one name between single slashes, so the cut is the strip-th slash after the first.
  let cut = 0;
  for (let dropped = 0; dropped < strip; dropped++) cut = path.indexOf(SLASH, cut + 1);
  return path.subarray(cut);
}

/** Whether a stripped path is the target itself, which only the folder at the cut may become. */
export function isStrippedToTarget(stripped: Buffer, strip: number): boolean {
  return strip > 0 && stripped.length === 1 && stripped[0] === SLASH;
}
