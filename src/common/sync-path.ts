// fsync of a file or folder by name: a file written through another handle (a stream, a child process),
// or a folder after a rename or link into it (without it a new name can vanish on power loss even
// though its data was synced).
import { open } from 'node:fs/promises';

export async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
