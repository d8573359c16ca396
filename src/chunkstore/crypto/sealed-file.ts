// A whole file (a catalog snapshot) to a sealed file and back: zstd-compressed, then sealed in framed
// segments, all streamed, so a catalog of any size moves in bounded memory. The result is written to a
// temp name, fsynced and renamed: a failed or refused open never leaves a partial target.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CompressStream, DecompressStream } from 'zstd-napi';
import { BackupError, CorruptError, errorMessage } from '../../common/errors';
import { OpenStream, SealStream, type SealedFileContext } from './file-seal';
import type { StoreKey } from './store-key';

export async function sealFile(key: StoreKey, context: SealedFileContext, sourceFile: string, sealedFile: string, compressionLevel = 3): Promise<void> {
  await writeThroughTemp(sealedFile, (temporary) => pipeline(
    createReadStream(sourceFile),
    new CompressStream({ compressionLevel }),
    new SealStream(key, context),
    createWriteStream(temporary, { mode: 0o600 }),
  ));
}

/** CorruptError or WrongKeyError when the sealed file does not open; then targetFile is untouched. */
export async function openSealedFile(key: StoreKey, context: SealedFileContext, sealedFile: string, targetFile: string): Promise<void> {
  await writeThroughTemp(targetFile, async (temporary) => {
    try {
      await pipeline(createReadStream(sealedFile), new OpenStream(key, context), new DecompressStream(), createWriteStream(temporary, { mode: 0o600 }));
    } catch (error) {
      // Authenticated bytes that zstd refuses mean the sealed content itself is bad, not the disk or the network.
      const isFileSystemError = typeof (error as NodeJS.ErrnoException).code === 'string';
      if (!(error instanceof BackupError) && !isFileSystemError) {
        throw new CorruptError(`sealed file ${context.name}: authenticated content does not decompress (${errorMessage(error)})`);
      }
      throw error;
    }
  });
}

async function writeThroughTemp(target: string, write: (temporary: string) => Promise<void>): Promise<void> {
  const temporary = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.part`);
  try {
    await write(temporary);
    const handle = await open(temporary, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, target);
  } finally {
    await rm(temporary, { force: true });
  }
}
