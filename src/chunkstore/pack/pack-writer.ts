// Appends encoded chunks to one session's pack files, rolling to a new pack past a target size.
// Small records are gathered and written together; flush() puts them in the file, sync() makes them durable.
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Catalog } from '../catalog/catalog';
import type { NewChunkRow } from '../catalog/records';
import { encodeRecordHeader, RECORD_HEADER_SIZE, type Codec } from './pack-format';
import { ensurePackFolder, fsyncFolder, newPackName, packPath } from './pack-files';
import { DiskFullError } from '../../common/errors';

interface OpenPack {
  readonly id: number;
  readonly path: string;
  readonly handle: FileHandle;
  /** Bytes appended, including those still gathered in `pending`. */
  size: number;
  /** Bytes actually in the file. */
  written: number;
  readonly pending: Buffer[];
}

export const DEFAULT_PACK_TARGET_SIZE = 64 * 1024 * 1024;
/** Gathered records are written once they reach this size: a write per small file cost a thread-pool round trip each. */
const WRITE_GATHER_SIZE = 1024 * 1024;

export class PackWriter {
  private current: OpenPack | undefined;
  /** Packs that reached the target size: closed for writing, not yet fsynced and sealed. */
  private readonly full: OpenPack[] = [];
  private appendTail: Promise<unknown> = Promise.resolve();
  /** Set by discard(): a late append (a chunk still in flight) must not open a pack nobody seals. */
  private isEnded = false;

  constructor(
    private readonly storeDirectory: string,
    private readonly catalog: Catalog,
    private readonly targetSize = DEFAULT_PACK_TARGET_SIZE,
  ) {}

  /** Appends one chunk; the caller records it in the catalog (with the content that uses it). */
  async append(hash: Buffer, codec: Codec, rawSize: number, payload: Buffer): Promise<NewChunkRow> {
    const header = encodeRecordHeader({ codec, rawSize, storedSize: payload.length, hash });
    const { packId, offset } = await this.appendRecord(header, payload);
    return { hash, packId, offset, storedSize: payload.length, rawSize };
  }

  /** Appends an already framed record without touching the catalog (compaction moves chunks with it). */
  appendRecord(header: Buffer, payload: Buffer): Promise<{ packId: number; offset: number }> {
    // Appends run one after another: each needs the offset the previous one ends at.
    const result = this.appendTail.then(() => this.appendNow(header, payload));
    this.appendTail = result.catch(() => undefined);
    return result;
  }

  private async appendNow(header: Buffer, payload: Buffer): Promise<{ packId: number; offset: number }> {
    if (this.isEnded) throw new Error('pack writer already closed: append refused');
    const pack = await this.packWithRoom();
    const offset = pack.size;
    pack.pending.push(header, payload);
    pack.size += RECORD_HEADER_SIZE + payload.length;
    if (pack.size - pack.written >= WRITE_GATHER_SIZE) await this.writePending(pack);
    return { packId: pack.id, offset };
  }

  /** Writes every gathered record to its file; callers must flush before recording those chunks in the catalog. */
  flush(): Promise<void> {
    const done = this.appendTail.then(() => this.writeAllPending());
    this.appendTail = done.catch(() => undefined);
    return done;
  }

  private async writeAllPending(): Promise<void> {
    for (const pack of this.current ? [...this.full, this.current] : this.full) await this.writePending(pack);
  }

  private async writePending(pack: OpenPack): Promise<void> {
    if (pack.pending.length === 0) return;
    const pieces = pack.pending.splice(0);
    const end = pack.size;
    try {
      await pack.handle.writev(pieces, pack.written);
    } catch (error) {
      throw translateWriteError(error, pack.path);
    }
    pack.written = end;
  }

  /** Makes every byte appended so far durable (file and folder fsync); seals the full packs. */
  async sync(): Promise<void> {
    await this.flush();
    const packs = this.current ? [...this.full, this.current] : [...this.full];
    for (const pack of packs) {
      try {
        await pack.handle.sync();
        await fsyncFolder(dirname(pack.path));
      } catch (error) {
        throw translateWriteError(error, pack.path);
      }
    }
    for (const pack of this.full.splice(0)) {
      this.catalog.sealPack(pack.id, pack.size);
      await pack.handle.close();
    }
  }

  /** Syncs and seals everything; the writer cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.current) this.full.push(this.current);
    this.current = undefined;
    await this.sync();
  }

  /**
   * Ends an abandoned session's packs. Its chunks stay usable for dedup, so they are still
   * written and fsynced; a pack that cannot be synced loses its chunk rows instead of being
   * trusted. Returns, per synced pack, how many of its bytes are durable.
   */
  async discard(): Promise<Map<number, number>> {
    this.isEnded = true;
    await this.appendTail;
    if (this.current) this.full.push(this.current);
    this.current = undefined;
    const syncedPacks = new Map<number, number>();
    let firstError: unknown;
    for (const pack of this.full.splice(0)) {
      try {
        await this.writePending(pack).catch(() => undefined); // on a full disk, what fits nowhere stays out
        const isSynced = await pack.handle.sync().then(() => true, () => false);
        if (isSynced) syncedPacks.set(pack.id, pack.written);
        else this.catalog.sqlite.prepare(`DELETE FROM chunks WHERE pack_id = ?`).run(pack.id);
        this.catalog.sealPack(pack.id, pack.written);
      } catch (error) {
        // The catalog itself may be out of space: the pack stays unsealed and recovery re-reads it on the next start.
        firstError ??= error;
      } finally {
        await pack.handle.close().catch(() => undefined);
      }
    }
    if (firstError !== undefined) throw firstError;
    return syncedPacks;
  }


  private async packWithRoom(): Promise<OpenPack> {
    if (this.current && this.current.size < this.targetSize) return this.current;
    if (this.current) {
      await this.writePending(this.current);
      this.full.push(this.current);
    }
    this.current = undefined;
    const name = newPackName();
    await ensurePackFolder(this.storeDirectory, name);
    const path = packPath(this.storeDirectory, name);
    let handle: FileHandle;
    try {
      handle = await open(path, 'wx', 0o600);
    } catch (error) {
      throw translateWriteError(error, path);
    }
    let id: number;
    try {
      id = this.catalog.createPack(name, Date.now());
    } catch (error) {
      // No row, no owner: close the file and leave it to recovery's orphan sweep.
      await handle.close().catch(() => undefined);
      throw error;
    }
    this.current = { id, path, handle, size: 0, written: 0, pending: [] };
    return this.current;
  }
}

export function translateWriteError(error: unknown, path: string): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new DiskFullError(`store is full: cannot write ${path} (${code})`, { cause: error });
  }
  return error as Error;
}
