// `-i --strip N`: where an entry of the backup goes once its first N path components are dropped.

/** The entry path with the first `strip` components dropped, or undefined for an entry within them (one of the stripped folders). */
export function strippedPath(path: Buffer, strip: number): Buffer | undefined {
  let cut = 0;
  for (let dropped = 0; dropped < strip; dropped++) {
    cut = path.indexOf(0x2f, cut + 1);
    if (cut < 0) return undefined;
  }
  return strip === 0 ? path : path.subarray(cut);
}
