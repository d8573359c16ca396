// mkdir -p whose new names survive a power loss: a folder's new entry is durable only once the folder
// holding it is fsynced, so each folder that gained one is (the new folders' own contents are the caller's).
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { syncPath } from './sync-path';

/** Creates folder and any missing parents; returns the folders fsynced because an entry was created in them, deepest first. */
export async function makeFolderDurably(folder: string, mode: number, sync: (path: string) => Promise<void> = syncPath): Promise<string[]> {
  const firstCreated = await mkdir(folder, { recursive: true, mode });
  if (firstCreated === undefined) return [];
  const synced: string[] = [];
  for (let created = folder; ; created = dirname(created)) {
    synced.push(dirname(created));
    if (created === firstCreated || dirname(created) === created) break;
  }
  for (const parent of synced) await sync(parent);
  return synced;
}
