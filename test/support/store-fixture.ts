// An in-process chunk store in a temp folder, and helpers that write and read backups through the
// store's own sessions: the write path and GC tested without spawning a server.
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChunkStore, type BackupRecord, type StoreOptions } from '../../src/chunkstore/store';
import type { BackupSession } from '../../src/chunkstore/session';
import type { StoredEntry } from '../../src/chunkstore/read';
import { deterministicBytes } from './trees';
import { flipByte } from './fault-tools';

export const SMALL_CHUNKS = { name: 'fastcdc', minSize: 4096, avgSize: 16384, maxSize: 65536 } as const;

export interface StoreFixture {
  readonly directory: string;
  store: ChunkStore;
  reopen(): Promise<ChunkStore>;
  destroy(): Promise<void>;
}

export async function openStoreFixture(options: Partial<StoreOptions> = {}): Promise<StoreFixture> {
  const directory = await mkdtemp(join(tmpdir(), 'cpsbackup-store-'));
  const open = (): Promise<ChunkStore> => ChunkStore.open(directory, { chunker: SMALL_CHUNKS, compressionLevel: 3, encoderThreads: 0, ...options });
  const fixture: StoreFixture = {
    directory,
    store: await open(),
    async reopen() {
      await fixture.store.close();
      fixture.store = await open();
      return fixture.store;
    },
    async destroy() {
      await fixture.store.close().catch(() => undefined);
      await rm(directory, { recursive: true, force: true });
    },
  };
  return fixture;
}

export function fileEntry(path: string, size: number): Omit<StoredEntry, 'contentId'> {
  return {
    path: Buffer.from(path), type: 1, mode: 0o644, uid: 0, gid: 0, user: '', group: '', mtimeSec: 1, mtimeNsec: 0, ctimeSec: 1, ctimeNsec: 0,
    inode: 1, device: 1, nlink: 1, rdev: 0, size, linkTarget: Buffer.alloc(0), xattrs: [], extents: [], inodeFlags: 0,
  };
}

/** Bytes for a test file: seeded, incompressible, or a repeated text when `seed` starts with "text:". */
export async function bytesOf(seed: string, size: number): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for await (const piece of deterministicBytes(seed, size)) pieces.push(piece as Buffer);
  return Buffer.concat(pieces);
}

/** Streams content into a session as the protocol would: in 64 KiB pieces, then finish with its hash. */
export async function addFile(session: BackupSession, path: string, content: Buffer): Promise<void> {
  const writer = session.openContent(() => path);
  for (let offset = 0; offset < content.length; offset += 65536) await writer.write(content.subarray(offset, offset + 65536));
  const stored = await writer.finish(createHash('sha256').update(content).digest(), content.length);
  await session.addEntry(fileEntry(path, content.length), stored);
}

export async function backupFiles(store: ChunkStore, client: string, files: Record<string, Buffer>): Promise<BackupRecord> {
  const session = await store.beginBackup(client, { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  for (const [path, content] of Object.entries(files)) await addFile(session, path, content);
  return session.commit({}, 0);
}

/** Every file of a backup, read back through the store's reader (each chunk verified). */
export async function readBackup(store: ChunkStore, backup: BackupRecord): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const reader = store.openReader(backup);
  try {
    for await (const page of reader.pages()) {
      for (const item of page) {
        if (item.damage !== undefined) throw new Error(`${item.entry.path.toString()}: ${item.damage}`);
        if (item.content) files.set(item.entry.path.toString(), await item.content.readWhole());
      }
    }
  } finally {
    reader.close();
  }
  return files;
}

/** Flips one byte of the first pack of a local store (at `offset`: past the first record's header, in its payload). */
export async function flipByteOfFirstPack(storeDirectory: string, offset: number): Promise<void> {
  const packs = join(storeDirectory, 'packs');
  // A prefix folder may be empty: a cover pack (cover-writer.ts) was stored there and deleted.
  for (const folder of (await readdir(packs)).sort()) {
    const [pack] = (await readdir(join(packs, folder))).sort();
    if (pack !== undefined) return flipByte(join(packs, folder, pack), offset);
  }
  throw new Error(`no pack in ${packs}`);
}
