// Paths as bytes, compared the way a selection of a backup's paths means them.

const SLASH = 0x2f;

/** Whether path lies below folder, at any depth ("/" holds everything but itself). */
export function isBelowPath(path: Buffer, folder: Buffer): boolean {
  if (folder.length === 1 && folder[0] === SLASH) return path.length > 1;
  return path.length > folder.length && path[folder.length] === SLASH && path.subarray(0, folder.length).equals(folder);
}
