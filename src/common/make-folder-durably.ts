// mkdir -p whose names survive a power loss: a folder's entry is durable only once the folder holding
// it is fsynced. The first time this process uses a folder, every folder from its parent up to the
// root is fsynced, whether this process created it or found it: a process killed between its mkdir and
// that fsync left the folder there, and the next one, which created nothing, fsynced nothing, and what
// it then stored in the folder depended on a name never made durable. (The folders' own new entries are
// the caller's to fsync.)
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { syncPath } from './sync-path';

export class DurableFolders {
  private readonly known = new Set<string>();

  constructor(private readonly root: string, private readonly mode: number, private readonly sync: (path: string) => Promise<void> = syncPath) {}

  /** Creates folder (under the root) and any missing parents; on its first use here, fsyncs each folder above it up to the root, deepest first. */
  async make(folder: string): Promise<void> {
    if (this.known.has(folder)) return;
    await mkdir(folder, { recursive: true, mode: this.mode });
    for (let parent = dirname(folder); ; parent = dirname(parent)) {
      await this.sync(parent);
      if (parent === this.root || dirname(parent) === parent) break;
    }
    this.known.add(folder);
  }
}
