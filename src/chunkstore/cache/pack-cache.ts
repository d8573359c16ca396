// A bounded LRU cache of pack ranges on the server's disk (s3_cache_size), one file per range read from
// the bucket, like kopia's content cache (a range per content, keyed by blob, offset and length). A read
// is served from any cached range of the same pack that contains it. Files survive restarts.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../common/logger';
import { errorMessage } from '../../common/errors';
import { cacheFileBytes, cacheFileSize, openCacheFile } from './cache-file';

export interface PackCacheFigures {
  /** Reads served from the cache, and their bytes. */
  readonly hits: number;
  readonly hitBytes: number;
  /** Reads that went to the bucket (the cache off, a range never cached, evicted, or found damaged). */
  readonly misses: number;
  /** Bytes the cache files take now (never above limitBytes), and how many there are. */
  readonly bytes: number;
  readonly files: number;
  readonly limitBytes: number;
  /** Files removed to make room (least recently used first). */
  readonly evictions: number;
  /** Files found damaged (digest or size wrong, or records that did not open): removed and read again from the bucket. */
  readonly discarded: number;
}

interface Entry {
  readonly key: string;
  readonly packName: string;
  readonly offset: number;
  readonly length: number;
  readonly fileSize: number;
  /** False while its file is being written: counted against the bound, not yet served. */
  isReady: boolean;
}

/** Cache file names: <pack>.<offset>.<length>; pack names are hex. */
const FILE_NAME = /^([0-9A-Za-z_-]+)\.(\d+)\.(\d+)$/;

export class PackCache {
  /** In least-recently-used order: a hit moves its entry to the end. */
  private readonly entries = new Map<string, Entry>();
  private readonly byPack = new Map<string, Set<Entry>>();
  private used = 0;
  private counts = { hits: 0, hitBytes: 0, misses: 0, evictions: 0, discarded: 0 };
  /** Making room and taking it happen one put at a time, so two puts never both count on the same free bytes. */
  private reserveTail: Promise<unknown> = Promise.resolve();

  private constructor(private readonly directory: string, private readonly limitBytes: number, private readonly logger?: Logger) {}

  /**
   * Opens the cache folder, keeping the files of packs isKnownPack accepts (least recently modified evicted
   * first when over the bound); temporary files of a crashed write and files of deleted packs go.
   */
  static async open(directory: string, limitBytes: number, isKnownPack: (name: string) => boolean, logger?: Logger): Promise<PackCache> {
    await mkdir(directory, { recursive: true, mode: 0o700 });
    const cache = new PackCache(directory, limitBytes, logger);
    const found: { entry: Entry; modifiedAt: number }[] = [];
    for (const name of await readdir(directory)) {
      const match = FILE_NAME.exec(name);
      const file = join(directory, name);
      const info = await stat(file).catch(() => undefined);
      if (match === null || info === undefined || !info.isFile() || !isKnownPack(match[1])) {
        await unlink(file).catch(() => undefined);
        continue;
      }
      const [, packName, offset, length] = match;
      // A file of the wrong size is damaged: dropped now rather than counted.
      if (info.size !== cacheFileSize(Number(length))) {
        await unlink(file).catch(() => undefined);
        continue;
      }
      found.push({ entry: { key: name, packName, offset: Number(offset), length: Number(length), fileSize: info.size, isReady: true }, modifiedAt: info.mtimeMs });
    }
    found.sort((a, b) => a.modifiedAt - b.modifiedAt);
    for (const { entry } of found) cache.add(entry);
    await cache.makeRoom(0);
    return cache;
  }

  get figures(): PackCacheFigures {
    return { ...this.counts, bytes: this.used, files: this.entries.size, limitBytes: this.limitBytes };
  }

  /** The range from the cache, verified, or undefined (counted as a miss: the caller reads the bucket and calls put). */
  async get(packName: string, offset: number, length: number): Promise<Buffer | undefined> {
    const entry = this.containing(packName, offset, length);
    if (entry !== undefined) {
      const range = await this.readEntry(entry);
      if (range !== undefined) {
        // Most recently used: to the end of the map's order.
        this.entries.delete(entry.key);
        this.entries.set(entry.key, entry);
        this.counts.hits += 1;
        this.counts.hitBytes += length;
        const start = offset - entry.offset;
        return range.subarray(start, start + length);
      }
    }
    this.counts.misses += 1;
    return undefined;
  }

  /**
   * Keeps a range just read from the bucket, once its records opened (CachedBackend.readOpened): never bytes
   * nothing verified. Failures (a full disk) only cost the cache entry, never the read.
   */
  async put(packName: string, offset: number, range: Buffer): Promise<void> {
    const key = `${packName}.${offset}.${range.length}`;
    const fileSize = cacheFileSize(range.length);
    if (this.entries.has(key) || fileSize > this.limitBytes) return;
    const entry: Entry = { key, packName, offset, length: range.length, fileSize, isReady: false };
    // Room first, then the file: the folder never holds more than the bound, not even for a moment.
    const reserved = this.reserveTail.then(() => this.reserve(entry));
    this.reserveTail = reserved.catch(() => undefined);
    if (!(await reserved)) return;
    const temporary = join(this.directory, `.${key}.${randomBytes(4).toString('hex')}`);
    try {
      await writeFile(temporary, cacheFileBytes(range), { mode: 0o600 });
      await rename(temporary, join(this.directory, key));
      const current = this.entries.get(key);
      if (current === entry) {
        entry.isReady = true;
      } else if (current === undefined) {
        // Dropped meanwhile (gc deleted the pack) and its bytes no longer counted: kept, the file would
        // be on disk counted nowhere until a restart, beyond s3_cache_size.
        await unlink(join(this.directory, key));
      }
      // Otherwise a later put of the same range holds the name and counts the file (same bytes): it stays.
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      await this.remove(entry);
      this.logger?.warn(`pack cache: could not keep a range of pack ${packName}: ${errorMessage(error)}`);
    }
  }

  /**
   * The cached range holding this one did not open (why: the reader's error): removed and counted as discarded,
   * so the next read goes to the bucket. A range kept before its records were verified is found this way.
   */
  async discard(packName: string, offset: number, length: number, why: string): Promise<void> {
    const entry = this.containing(packName, offset, length);
    if (entry === undefined) return;
    this.counts.discarded += 1;
    await this.remove(entry);
    this.logger?.warn(`pack cache: ${entry.key} does not open (${why}): removed, read from the bucket again`);
  }

  /** The pack is gone from the bucket (GC): its ranges go too. */
  async dropPack(packName: string): Promise<void> {
    for (const entry of [...this.byPack.get(packName) ?? []]) await this.remove(entry);
  }

  private containing(packName: string, offset: number, length: number): Entry | undefined {
    const exact = this.entries.get(`${packName}.${offset}.${length}`);
    if (exact?.isReady === true) return exact;
    for (const entry of this.byPack.get(packName) ?? []) {
      if (entry.isReady && entry.offset <= offset && offset + length <= entry.offset + entry.length) return entry;
    }
    return undefined;
  }

  /** The entry's range if its file is intact; a damaged or vanished file is removed and counted. */
  private async readEntry(entry: Entry): Promise<Buffer | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(join(this.directory, entry.key));
    } catch (error) {
      await this.remove(entry);
      if ((error as { code?: string }).code !== 'ENOENT') this.logger?.warn(`pack cache: ${entry.key} unreadable, read from the bucket again: ${errorMessage(error)}`);
      return undefined;
    }
    const range = openCacheFile(bytes, entry.length);
    if (range === undefined) {
      this.counts.discarded += 1;
      await this.remove(entry);
      this.logger?.warn(`pack cache: ${entry.key} is damaged (digest mismatch): removed, read from the bucket again`);
    }
    return range;
  }

  private add(entry: Entry): void {
    this.entries.set(entry.key, entry);
    let ofPack = this.byPack.get(entry.packName);
    if (ofPack === undefined) {
      ofPack = new Set();
      this.byPack.set(entry.packName, ofPack);
    }
    ofPack.add(entry);
    this.used += entry.fileSize;
  }

  private async remove(entry: Entry): Promise<void> {
    if (this.entries.get(entry.key) !== entry) return;
    this.entries.delete(entry.key);
    const ofPack = this.byPack.get(entry.packName);
    ofPack?.delete(entry);
    if (ofPack?.size === 0) this.byPack.delete(entry.packName);
    // The bytes count until the file is gone: the bound holds for what is on disk.
    await unlink(join(this.directory, entry.key)).catch(() => undefined);
    this.used -= entry.fileSize;
  }

  private async reserve(entry: Entry): Promise<boolean> {
    await this.makeRoom(entry.fileSize);
    if (this.entries.has(entry.key) || this.used + entry.fileSize > this.limitBytes) return false;
    this.add(entry);
    return true;
  }

  /** Evicts least recently used ready files until `bytes` more fit (files still being written cannot go). */
  private async makeRoom(bytes: number): Promise<void> {
    while (this.used + bytes > this.limitBytes) {
      let oldest: Entry | undefined;
      for (const entry of this.entries.values()) {
        if (entry.isReady) {
          oldest = entry;
          break;
        }
      }
      if (oldest === undefined) return;
      this.counts.evictions += 1;
      await this.remove(oldest);
    }
  }
}
