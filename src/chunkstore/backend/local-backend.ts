// Packs in a local folder: packs/<2 hex>/<name>.pack, blobs in blobs/. A staged pack becomes a
// pack by fsync, link (which never replaces an existing name) and folder fsync.
import { link, readdir, stat, unlink, copyFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { ObjectExistsError, type PackBackend, type StoredObject } from './pack-backend';
import { PackHandles } from '../pack/pack-handles';
import { CorruptError, NotFoundError } from '../../common/errors';
import { translateWriteError } from './write-errors';
import { syncPath } from '../../common/sync-path';
import { DurableFolders } from '../../common/make-folder-durably';

export class LocalBackend implements PackBackend {
  readonly kind = 'local';
  private readonly handles = new PackHandles();
  private readonly folders: DurableFolders;

  constructor(readonly directory: string) {
    this.folders = new DurableFolders(directory, 0o700);
  }

  get location(): string {
    return this.directory;
  }

  private packPath(name: string): string {
    return join(this.directory, 'packs', name.slice(0, 2), `${name}.pack`);
  }

  private blobPath(name: string): string {
    return join(this.directory, 'blobs', name);
  }

  async putPack(name: string, stagedFile: string): Promise<void> {
    const path = this.packPath(name);
    const folder = join(this.directory, 'packs', name.slice(0, 2));
    try {
      await syncPath(stagedFile);
      // packs/ and the store folder may gain an entry too (the first pack, or the first of its prefix).
      await this.folders.make(folder);
      // link, not rename: rename would silently replace an existing pack of the same name.
      await link(stagedFile, path);
      await syncPath(folder);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new ObjectExistsError(name, this.directory);
      throw translateWriteError(error, path);
    }
    await unlink(stagedFile).catch(() => undefined); // the pack is durable; a leftover staged file is swept at the next start
  }

  async readRange(name: string, offset: number, length: number): Promise<Buffer> {
    const path = this.packPath(name);
    let handle;
    try {
      handle = await this.handles.get(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`pack ${name} is missing (${path})`);
      throw error;
    }
    const buffer = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await handle.read(buffer, filled, length - filled, offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled < length) throw new CorruptError(`pack ${name} is truncated: ${length} bytes at offset ${offset} asked, ${filled} there (${path})`);
    return buffer;
  }

  /**
   * Only what is not there is skipped (no packs yet, a pack deleted while listed, a stray file where a
   * folder goes): a listing that failed otherwise (EIO, EMFILE) must fail the check, not make every
   * pack it missed "missing" and their chunks damaged.
   */
  async *listPacks(): AsyncIterable<StoredObject> {
    const root = join(this.directory, 'packs');
    for (const folder of (await readdir(root).catch(orNone<string[]>([], 'ENOENT'))).sort()) {
      for (const file of (await readdir(join(root, folder)).catch(orNone<string[]>([], 'ENOENT', 'ENOTDIR'))).sort()) {
        if (!file.endsWith('.pack')) continue;
        const info = await stat(join(root, folder, file)).catch(orNone(undefined, 'ENOENT'));
        if (info !== undefined) yield { name: file.slice(0, -'.pack'.length), size: info.size, modifiedAt: info.mtime };
      }
    }
  }

  async deletePack(name: string): Promise<void> {
    const path = this.packPath(name);
    await this.handles.forget(path);
    await unlink(path).catch(ignoreMissing);
  }

  async putBlob(name: string, stagedFile: string): Promise<void> {
    const path = this.blobPath(name);
    const temporary = `${path}.tmp-${process.pid}`;
    try {
      await this.folders.make(join(this.directory, 'blobs'));
      await copyFile(stagedFile, temporary);
      await syncPath(temporary);
      await link(temporary, path);
      await syncPath(join(this.directory, 'blobs'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new ObjectExistsError(name, this.directory);
      throw translateWriteError(error, path);
    } finally {
      await unlink(temporary).catch(() => undefined);
    }
  }

  async getBlob(name: string, toFile: string): Promise<void> {
    const temporary = `${toFile}.tmp-${process.pid}`;
    try {
      await copyFile(this.blobPath(name), temporary);
      await rename(temporary, toFile);
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`blob ${name} is missing (${this.blobPath(name)})`);
      throw error;
    }
  }

  async *listBlobs(): AsyncIterable<StoredObject> {
    const folder = join(this.directory, 'blobs');
    for (const name of (await readdir(folder).catch(() => [] as string[])).sort()) {
      if (name.includes('.tmp-')) continue;
      const info = await stat(join(folder, name)).catch(() => undefined);
      if (info !== undefined) yield { name, size: info.size, modifiedAt: info.mtime };
    }
  }

  async deleteBlob(name: string): Promise<void> {
    await unlink(this.blobPath(name)).catch(ignoreMissing);
  }

  async close(): Promise<void> {
    await this.handles.close();
  }
}

function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}

/** A rejection handler: `value` for the given error codes, the error again for any other. */
function orNone<T>(value: T, ...codes: string[]): (error: unknown) => T {
  return (error: unknown) => {
    if (codes.includes((error as NodeJS.ErrnoException).code ?? '')) return value;
    throw error;
  };
}
