// SIGHUP rereads the clients folder and the TLS files, not server.conf (README: its rules need a restart). A
// setting changed on disk was then ignored without a word (a raised keep, and retention still deleted by the old).

/** The server.conf settings whose value on disk differs from the running one's (none of them applied before a restart). */
export function changedSettings(running: object, onDisk: object): string[] {
  const before = running as Record<string, unknown>;
  const after = onDisk as Record<string, unknown>;
  return [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((key) => key !== 'warnings' && JSON.stringify(before[key]) !== JSON.stringify(after[key])).sort();
}
