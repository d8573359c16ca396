// `-i --strip N`: where an entry of the backup goes once its first N path components are dropped.

const SLASH = 0x2f;
const ROOT = Buffer.from('/');

/**
 * The entry path with the first `strip` components dropped; "/" (the restore target itself) for an entry
 * of exactly `strip` components, the folder the restore is taken from (only a folder can be the target:
 * isStrippedToTarget); undefined for an entry above it (one of the folders the strip drops). The folder
 * at the cut mapped to undefined too, so its mode, owner, ACLs and times were dropped with exit 0.
 */
export function strippedPath(path: Buffer, strip: number): Buffer | undefined {
  if (strip === 0) return path;
  let cut = 0;
  for (let dropped = 0; dropped < strip; dropped++) {
    const next = path.indexOf(SLASH, cut + 1);
    if (next < 0) return dropped === strip - 1 && path.length > cut + 1 ? ROOT : undefined;
    cut = next;
  }
  return path.subarray(cut);
}

/** Whether a stripped path is the target itself, which only the folder at the cut may become. */
export function isStrippedToTarget(stripped: Buffer, strip: number): boolean {
  return strip > 0 && stripped.length === 1 && stripped[0] === SLASH;
}
