// cpsbackup's version (package.json's), found above the compiled file: for --version, /status and backup labels.
// Read once at start; "unknown" if the package file is not where an installation puts it.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export function readPackageVersion(from: string = __dirname): string {
  let folder = from;
  for (;;) {
    const candidate = path.join(folder, 'package.json');
    if (existsSync(candidate)) {
      try {
        const parsed = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
        if (parsed.name === 'cpsbackup' && typeof parsed.version === 'string') return parsed.version;
      } catch {
        // A broken package.json higher up is not ours; keep looking.
      }
    }
    const parent = path.dirname(folder);
    if (parent === folder) return 'unknown';
    folder = parent;
  }
}
