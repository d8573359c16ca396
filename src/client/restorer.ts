// `cpsbackup -i`: receives a backup's entries and writes them under the target, each file to a
// temporary name, checked against its hash, then renamed; folders' times are set last.
import { createHash, type Hash } from 'node:crypto';
import { chmod, lchown, lutimes, mkdir, open, rename, rm, symlink, unlink, utimes, lstat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { NodeConfig } from '../common/config/node-config';
import { EntryType, type BackupSummary, type EntryMeta, type RestoreResponse } from '../proto/cpsbackup';
import { connectToServer } from './connection';
import { fromServiceError } from './remote-error';
import { RestoreTarget } from './restore-target';
import { CorruptError, DiskFullError, ProtocolError, errorMessage } from '../common/errors';
import { describeRenameError, writeSmallFile } from './write-small-file';
import { carriesContent } from '../common/entry-content';

export interface RestoreOptions {
  readonly backupId: number;       // 0: newest
  readonly to?: string;            // undefined: original paths
  readonly clientName?: string;    // another client's backups (restore_client)
  readonly paths?: readonly string[];
  readonly onProgress?: (progress: RestoreProgress) => void;
}

export interface RestoreProgress {
  files: number;
  bytes: number;
}

export interface RestoredEntry {
  readonly originalPath: string;
  readonly localPath: string;
  readonly type: EntryType;
}

export interface RestoreResult {
  readonly backup: BackupSummary;
  readonly progress: RestoreProgress;
  readonly failures: readonly string[];
  /** Entries that were FIFOs (dumps): restored as regular files, ready for their loaders. */
  readonly dumpFiles: readonly RestoredEntry[];
}

interface OpenFile {
  readonly meta: EntryMeta;
  readonly localPath: string;
  readonly temporaryPath: string;
  /** Set once the file is written as it arrives; small files are kept in `pieces` until complete. */
  handle: FileHandle | undefined;
  readonly pieces: Buffer[];
  /** Of streamed files only; small ones are hashed by writeSmallFile. */
  readonly hash: Hash;
  size: number;
}

/** Files up to this size are written in one call after they arrived whole: far fewer round trips to the disk. */
const SMALL_FILE_SIZE = 1024 * 1024;
/** Files being finished (written, renamed, stamped) while the next ones arrive. */
const FINISHING_AT_ONCE = 16;

const isRoot = process.getuid?.() === 0;
/** Paths are unique within a backup, so this process's tag makes each temporary name unique. */
const TEMPORARY_TAG = `${process.pid}-${Date.now().toString(36)}`;

export async function runRestore(config: NodeConfig, options: RestoreOptions): Promise<RestoreResult> {
  const client = connectToServer(config);
  const target = new RestoreTarget(options.to ?? '/');
  const progress: RestoreProgress = { files: 0, bytes: 0 };
  const failures: string[] = [];
  const dumpFiles: RestoredEntry[] = [];
  const folders: { localPath: string; meta: EntryMeta }[] = [];
  let backup: BackupSummary | undefined;
  let current: OpenFile | undefined;
  const finishing = new Set<Promise<void>>();
  const createdFolders = new Set<string>();

  const startFile = async (meta: EntryMeta): Promise<void> => {
    if (current) throw new ProtocolError(`entry ${meta.path} before ${current.meta.path} ended`);
    current = await startEntry(target, meta, folders, failures, createdFolders);
  };
  const addData = async (chunk: Buffer): Promise<void> => {
    if (!current) return; // content of an entry that was refused: drained, not written
    current.size += chunk.length;
    if (current.handle === undefined && current.size > SMALL_FILE_SIZE) {
      // Larger than its metadata said: stream the rest instead of holding it.
      current.handle = await open(current.temporaryPath, 'wx', 0o600);
      for (const piece of current.pieces.splice(0)) {
        current.hash.update(piece);
        await current.handle.write(piece);
      }
    }
    if (current.handle) {
      current.hash.update(chunk);
      await current.handle.write(chunk);
    } else {
      current.pieces.push(chunk); // hashed by writeSmallFile
    }
    progress.bytes += chunk.length;
    options.onProgress?.(progress);
  };
  const endFile = async (sha256: Buffer, size: number, damage: string): Promise<void> => {
    const file = current;
    current = undefined;
    if (!file) return;
    const task = finishFile(file, sha256, size, damage).then((error) => {
      if (error) {
        failures.push(error);
        return;
      }
      progress.files++;
      if (file.meta.type === EntryType.ENTRY_TYPE_FIFO_CONTENT) {
        dumpFiles.push({ originalPath: file.meta.path, localPath: file.localPath, type: file.meta.type });
      }
    }).finally(() => finishing.delete(task));
    finishing.add(task);
    if (finishing.size >= FINISHING_AT_ONCE) await Promise.race(finishing);
  };

  try {
    if (options.to !== undefined) await mkdir(options.to, { recursive: true });
    const call = client.restore({ backupId: options.backupId, clientName: options.clientName ?? '', paths: [...(options.paths ?? [])], acceptsBatches: true });
    for await (const response of call as AsyncIterable<RestoreResponse>) {
      const message = response.message;
      if (message === undefined) throw new ProtocolError('empty restore message');
      switch (message.$case) {
        case 'backup':
          backup = message.value;
          break;
        case 'entry':
          await startFile(message.value);
          break;
        case 'data':
          await addData(message.value.chunk);
          break;
        case 'entryEnd':
          await endFile(message.value.sha256, message.value.size, message.value.damage);
          break;
        case 'batch':
          for (const item of message.value.entries) {
            if (!item.meta) throw new ProtocolError('batched entry without metadata');
            await startFile(item.meta);
            if (!carriesContent(item.meta.type)) continue;
            await addData(item.content);
            await endFile(item.sha256, item.meta.size, '');
          }
          break;
      }
    }
    if (current) throw new ProtocolError(`restore stream ended inside ${current.meta.path}`);
    if (!backup) throw new ProtocolError('the server sent no backup header');
    await Promise.all(finishing);
    // Deepest first, so setting a folder's mtime is not undone by writing its children.
    for (const folder of folders.reverse()) await applyMetadata(folder.localPath, folder.meta, false).catch((error) => {
      failures.push(`${folder.localPath}: cannot set metadata (${errorMessage(error)})`);
    });
    return { backup, progress, failures, dumpFiles };
  } catch (error) {
    if (error instanceof DiskFullError) throw error;
    throw targetFullError(error, current?.localPath ?? options.to ?? '/') ?? fromServiceError(error, `${config.server}:${config.port}`);
  } finally {
    await Promise.allSettled(finishing);
    if (current) {
      await current.handle?.close().catch(() => undefined);
      await unlink(current.temporaryPath).catch(() => undefined);
    }
    client.close();
  }
}

async function startEntry(target: RestoreTarget, meta: EntryMeta, folders: { localPath: string; meta: EntryMeta }[],
  failures: string[], createdFolders: Set<string>): Promise<OpenFile | undefined> {
  let localPath: string;
  try {
    localPath = target.localPath(meta.path);
    await target.checkParents(localPath);
    const parent = dirname(localPath);
    if (!createdFolders.has(parent)) {
      await mkdir(parent, { recursive: true });
      createdFolders.add(parent);
    }
  } catch (error) {
    failures.push(errorMessage(error));
    return undefined;
  }
  try {
    switch (meta.type) {
      case EntryType.ENTRY_TYPE_DIRECTORY: {
        const existing = await lstat(localPath).catch(() => undefined);
        if (existing?.isSymbolicLink()) await unlink(localPath);
        await mkdir(localPath, { recursive: true });
        createdFolders.add(localPath);
        folders.push({ localPath, meta });
        return undefined;
      }
      case EntryType.ENTRY_TYPE_SYMLINK: {
        await rm(localPath, { force: true });
        await symlink(meta.linkTarget, localPath);
        target.noteCreatedLink(localPath);
        await applyMetadata(localPath, meta, true);
        return undefined;
      }
      case EntryType.ENTRY_TYPE_FILE:
      case EntryType.ENTRY_TYPE_FIFO_CONTENT: {
        const temporaryPath = join(dirname(localPath), `.${basename(localPath)}.cpsbackup-${TEMPORARY_TAG}`);
        const handle = meta.size > SMALL_FILE_SIZE ? await open(temporaryPath, 'wx', 0o600) : undefined;
        return { meta, localPath, temporaryPath, handle, pieces: [], hash: createHash('sha256'), size: 0 };
      }
      default:
        failures.push(`${meta.path}: unknown entry type ${meta.type}`);
        return undefined;
    }
  } catch (error) {
    failures.push(`${localPath}: ${errorMessage(error)}`);
    return undefined;
  }
}

/**
 * Returns an error message instead of throwing: one bad file must not stop the others. A full
 * disk is the exception: it stops the restore with one clear line naming the file.
 */
async function finishFile(file: OpenFile, expectedHash: Buffer, expectedSize: number, damage: string): Promise<string | undefined> {
  const meta = file.meta.type === EntryType.ENTRY_TYPE_FIFO_CONTENT ? { ...file.meta, mode: 0o600 } : file.meta;
  try {
    if (damage) throw new CorruptError(`not restored, the store is damaged: ${damage}`);
    if (!file.handle) {
      writeSmallFile({
        temporaryPath: file.temporaryPath, localPath: file.localPath, pieces: file.pieces, expectedHash, expectedSize, mode: meta.mode,
        owner: isRoot && (meta.uid !== 0 || meta.gid !== 0) ? { uid: meta.uid, gid: meta.gid } : undefined, mtime: meta.mtimeSec + meta.mtimeNsec / 1e9,
      });
      return undefined;
    }
    if (file.size !== expectedSize || !file.hash.digest().equals(expectedHash)) {
      throw new CorruptError(`received content does not match its hash (${file.size} of ${expectedSize} bytes)`);
    }
    await file.handle.close();
    await renameIntoPlace(file.temporaryPath, file.localPath);
    await applyMetadata(file.localPath, meta, false);
    return undefined;
  } catch (error) {
    await file.handle?.close().catch(() => undefined);
    await unlink(file.temporaryPath).catch(() => undefined);
    const full = targetFullError(error, file.localPath);
    if (full) throw full;
    return `${file.localPath}: ${errorMessage(error)}`;
  }
}

async function renameIntoPlace(temporaryPath: string, localPath: string): Promise<void> {
  try {
    await rename(temporaryPath, localPath);
  } catch (error) {
    throw describeRenameError(error);
  }
}

/** A full target is the user's to fix: one clear line naming the file, no stack trace. */
function targetFullError(error: unknown, localPath: string): DiskFullError | undefined {
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== 'ENOSPC' && code !== 'EDQUOT') return undefined;
  return new DiskFullError(`restore target is full: cannot write ${localPath} (${code}); nothing was left under its final name`, { cause: error });
}

async function applyMetadata(localPath: string, meta: EntryMeta, isLink: boolean): Promise<void> {
  if (isRoot) await lchown(localPath, meta.uid, meta.gid).catch(() => undefined);
  const mtime = meta.mtimeSec + meta.mtimeNsec / 1e9;
  if (isLink) {
    await lutimes(localPath, mtime, mtime);
    return;
  }
  await chmod(localPath, meta.mode);
  await utimes(localPath, mtime, mtime);
}
