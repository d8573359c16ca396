// Writes a CA record file so that a crash leaves either no file or the whole file, on disk before
// the caller goes on: a certificate handed out must never be missing from the record of issued ones.
import { link, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../common/errors';
import { syncPath } from '../common/sync-path';

/**
 * Temporary file beside the target (mode set whatever the umask), fsync, then into place and an
 * fsync of the folder. `isReplacing` false: an existing target is an error, never overwritten.
 */
export async function writeDurably(target: string, text: string, mode: number, isReplacing: boolean): Promise<void> {
  const temporary = path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}`);
  const handle = await open(temporary, 'wx', mode);
  try {
    try {
      await handle.chmod(mode);
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (isReplacing) {
      await rename(temporary, target);
    } else {
      await link(temporary, target).catch((error: NodeJS.ErrnoException) => {
        throw error.code === 'EEXIST' ? new ConfigError(target, undefined, 'already exists; refusing to overwrite') : error;
      });
    }
  } finally {
    await unlink(temporary).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
  await syncPath(path.dirname(target));
}
