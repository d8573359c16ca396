// `cpsbackup -e`: streams dump FIFOs and the include folders to the server as one backup.
// Dumps go first (their dumpers block until read); any dumper failure aborts the whole backup.
import { hostname } from 'node:os';
import type { NodeConfig } from '../common/config/node-config';
import { BackupKind, EntryType, type BackupSummary, type EntryMeta } from '../proto/cpsbackup';
import { connectToServer } from './connection';
import { fetchParentIndex } from './parent-index';
import { UploadStream } from './upload-stream';
import { EntryBatcher, type EntrySink } from '../common/wire/entry-batcher';
import { EntryPerMessage } from './entry-per-message';
import { sendContent } from './content-sender';
import { openFifoContent, openFileContent } from './open-content';
import { prepareEntry, type PreparedEntry } from './prepared-entry';
import { walk } from './walker';
import { fromServiceError } from './remote-error';
import type { StorageConfig } from './sources/storage-config';
import { startDumps, type DumpRun } from './sources/dump-run';
import { errorMessage } from '../common/errors';
import { readPackageVersion } from '../common/package-version';
import { DUMPS_STARTED_LABEL } from './partial-chain';

export const CLIENT_VERSION = readPackageVersion();

export interface BackupProgress {
  files: number;
  bytesRead: number;
  unchangedFiles: number;
  readonly warnings: string[];
}

export interface BackupOptions {
  readonly kind: BackupKind;
  readonly storage?: StorageConfig;
  readonly partialSince?: Date;
  readonly onProgress?: (progress: BackupProgress) => void;
  readonly signal?: AbortSignal;
}

export interface BackupResult {
  readonly summary: BackupSummary;
  readonly progress: BackupProgress;
  readonly durationMs: number;
}

export async function runBackup(config: NodeConfig, options: BackupOptions): Promise<BackupResult> {
  const startedAt = Date.now();
  const address = `${config.server}:${config.port}`;
  const client = connectToServer(config);
  const progress: BackupProgress = { files: 0, bytesRead: 0, unchangedFiles: 0, warnings: [] };
  let dumps: DumpRun | undefined;
  let stream: UploadStream | undefined;
  try {
    const parent = await fetchParentIndex(client).catch((error) => { throw fromServiceError(error, address); });
    let dumpsStartedAt: string | undefined;
    if (options.storage && options.storage.sources.length > 0) {
      dumpsStartedAt = new Date().toISOString();
      dumps = await startDumps(options.storage, config.workDirectory, { partialSince: options.partialSince, signal: options.signal });
    }
    stream = new UploadStream(client.upload(), (error) => fromServiceError(error, address));
    await stream.send({ message: { $case: 'begin', value: {
      hostname: hostname(), kind: options.kind, parentBackupId: parent.backupId,
      labels: { ...(dumps?.labels ?? {}), ...(dumpsStartedAt ? { [DUMPS_STARTED_LABEL]: dumpsStartedAt } : {}) }, clientVersion: CLIENT_VERSION,
    } } });
    const report = (): void => options.onProgress?.(progress);
    const onBytes = (count: number): void => { progress.bytesRead += count; };

    if (dumps) {
      for (const file of dumps.files) {
        options.signal?.throwIfAborted();
        await stream.send({ message: { $case: 'entry', value: { meta: dumpEntryMeta(file.path), sameAsParent: false } } });
        await sendContent(stream, dumps.openDump(file), onBytes);
        progress.files++;
        report();
      }
      await dumps.finish();
      dumps = undefined;
    }

    const skipPaths = new Set<string>([config.workDirectory]);
    const batcher: EntrySink = parent.acceptsBatches
      ? new EntryBatcher((batch) => stream!.send({ message: { $case: 'batch', value: batch } })) : new EntryPerMessage(stream);
    for await (const meta of walk({
      includes: config.includes, excludeRegex: config.excludeRegex, readAllFifos: config.readAllFifos,
      skipPaths, onWarning: (message) => progress.warnings.push(message),
    })) {
      options.signal?.throwIfAborted();
      await sendEntry(stream, batcher, prepareEntry(meta, parent.entries.get(meta.path)), progress, onBytes);
      report();
    }
    await batcher.flush();
    await stream.send({ message: { $case: 'commit', value: { warnings: progress.warnings.slice(0, 100) } } });
    const summary = await stream.finish();
    return { summary, progress, durationMs: Date.now() - startedAt };
  } catch (error) {
    const reason = errorMessage(error);
    await dumps?.abort().catch(() => undefined);
    if (stream) await stream.abort(reason);
    throw error;
  } finally {
    client.close();
  }
}

const NO_CONTENT = Buffer.alloc(0);

async function sendEntry(stream: UploadStream, batcher: EntrySink, prepared: PreparedEntry,
  progress: BackupProgress, onBytes: (count: number) => void): Promise<void> {
  const { meta } = prepared;
  if (meta.type === EntryType.ENTRY_TYPE_DIRECTORY || meta.type === EntryType.ENTRY_TYPE_SYMLINK) {
    await batcher.add({ meta, sameAsParent: false, content: NO_CONTENT, sha256: NO_CONTENT });
    return;
  }
  if (prepared.isUnchanged) {
    await batcher.add({ meta, sameAsParent: true, content: NO_CONTENT, sha256: NO_CONTENT });
    progress.files++;
    progress.unchangedFiles++;
    return;
  }
  const smallFile = prepared.content;
  if (smallFile instanceof Buffer) {
    await batcher.add({ meta, sameAsParent: false, content: smallFile, sha256: NO_CONTENT });
    onBytes(smallFile.length);
    progress.files++;
    return;
  }
  const content = smallFile === 'vanished' ? undefined
    : meta.type === EntryType.ENTRY_TYPE_FIFO_CONTENT ? await openFifoContent(meta.path) : await openFileContent(meta.path, meta.size);
  if (content === undefined) {
    progress.warnings.push(`${meta.path}: vanished during the backup (skipped)`);
    return;
  }
  // A streamed entry's messages must follow the entries gathered before it.
  await batcher.flush();
  await stream.send({ message: { $case: 'entry', value: { meta, sameAsParent: false } } });
  await sendContent(stream, content, onBytes);
  progress.files++;
}

/** Dump FIFOs carry no useful metadata: they come back as private regular files stamped with the backup time. */
function dumpEntryMeta(path: string): EntryMeta {
  const now = Date.now();
  return {
    path, type: EntryType.ENTRY_TYPE_FIFO_CONTENT, mode: 0o600, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0,
    mtimeSec: Math.floor(now / 1000), mtimeNsec: (now % 1000) * 1_000_000, ctimeSec: 0, ctimeNsec: 0,
    inode: 0, device: 0, size: 0, linkTarget: '',
  };
}
