// `cpsbackup -e`: streams dump FIFOs and the include folders to the server as one backup.
// Dumps go first (their dumpers block until read); any dumper failure aborts the whole backup.
// Files that cannot be read are reported and counted: the backup is kept but marked incomplete.
import { availableParallelism, hostname } from 'node:os';
import { ChunkUploader } from './chunking/chunk-uploader';
import type { NodeConfig } from '../common/config/node-config';
import { BackupKind, type BackupSummary } from '../proto/cpsbackup';
import { connectToServer } from './connection';
import { ParentIndex } from './parent-index';
import { UploadStream } from './upload-stream';
import { EntryBatcher, type EntrySink } from '../common/wire/entry-batcher';
import { EntryPerMessage } from './entry-per-message';
import { sendContent } from './content-sender';
import { EntrySender, type SendProgress } from './entry-sender';
import { walk } from './walker';
import { fromServiceError } from './remote-error';
import type { StorageConfig } from './sources/storage-config';
import { startDumps, type DumpFile, type DumpRun } from './sources/dump-run';
import { isPartialDump } from './sources/dump-plans';
import { BackupError, errorMessage, ConfigError, DumpFailedError, ProtocolError } from '../common/errors';
import { readPackageVersion } from '../common/package-version';
import { DUMPS_STARTED_LABEL } from './partial-since';
import { LoopYield } from '../common/loop-yield';
import { dumpEntryMeta } from '../common/dump-entry';
import { markReachedServer } from './failure-report';
import { StopReading } from './stop-reading';
import { ownFolders } from './own-folders';

export const CLIENT_VERSION = readPackageVersion();

export type BackupProgress = SendProgress;

export interface BackupOptions {
  readonly kind: BackupKind;
  readonly storage?: StorageConfig;
  readonly partialSince?: Date;
  readonly onProgress?: (progress: BackupProgress) => void;
  readonly signal?: AbortSignal;
  /** The daemon's scheduled run (burp's timed backup); a client without client_can_force_backup may only send these. */
  readonly isScheduled?: boolean;
  /** Just before the commit goes out: from then on the server may commit it, whatever the client does. */
  readonly onCommit?: () => void;
}

export interface BackupResult {
  readonly summary: BackupSummary;
  readonly progress: BackupProgress;
  readonly durationMs: number;
}

/** Warnings and unreadable files sent with the commit are capped; the client prints them all. */
const MAX_COMMIT_WARNINGS = 100;

export async function runBackup(config: NodeConfig, options: BackupOptions): Promise<BackupResult> {
  // Such a backup was "done: 0 files", exit 0, and enough of them pushed every real backup out by the keep counts.
  if (config.includes.length === 0 && (options.storage?.sources.length ?? 0) === 0) {
    throw new ConfigError(config.file, undefined, 'nothing to back up: no include line here, and no dump source (storage.conf); not backed up');
  }
  const startedAt = Date.now();
  const address = `${config.server}:${config.port}`;
  const client = connectToServer(config);
  const progress: BackupProgress = { files: 0, bytesRead: 0, unchangedFiles: 0, carriedFiles: 0, warnings: [], unreadable: [], changedWhileRead: [], sentBytes: 0 };
  let dumps: DumpRun | undefined;
  let stream: UploadStream | undefined;
  let chunks: ChunkUploader | undefined;
  let parent: ParentIndex | undefined;
  let stopReading: StopReading | undefined;
  try {
    parent = await ParentIndex.open(client, (error) => fromServiceError(error, address));
    refuseOlderServer(parent, address);
    let dumpsStartedAt: string | undefined;
    if (options.storage && options.storage.sources.length > 0) {
      dumpsStartedAt = new Date().toISOString();
      dumps = await startDumps(options.storage, config.workDirectory, { partialSince: options.partialSince, signal: options.signal });
    }
    stream = new UploadStream(client.upload(), (error) => fromServiceError(error, address), config.rateLimitBytesPerSecond);
    await stream.send({ message: { $case: 'begin', value: {
      hostname: hostname(), kind: options.kind, parentBackupId: parent.backupId,
      labels: { ...(dumps?.labels ?? {}), ...(dumpsStartedAt ? { [DUMPS_STARTED_LABEL]: dumpsStartedAt } : {}) }, clientVersion: CLIENT_VERSION,
      isScheduled: options.isScheduled === true,
    } } });
    stopReading = new StopReading(stream.committed, options.signal);
    const report = (): void => options.onProgress?.(progress);
    const onBytes = (count: number): void => { progress.bytesRead += count; };
    const ack = await stream.begun;
    const batcher: EntrySink = parent.acceptsBatches
      ? new EntryBatcher((batch) => stream!.send({ message: { $case: 'batch', value: batch } })) : new EntryPerMessage(stream);
    // Chunks cut here when the server takes them (it says how to cut them), else bytes for the server to cut.
    chunks = config.chunking === 'client' && ack.chunking !== undefined
      ? await ChunkUploader.create(stream, batcher, ack.chunking, Math.max(1, Math.min(availableParallelism() - 1, 3))) : undefined;

    let hasDumps = false;
    if (dumps) {
      const emptyDumps: DumpFile[] = [];
      for (const file of dumps.files) {
        options.signal?.throwIfAborted();
        const dump = dumps.openDump(file);
        let dumpBytes = 0;
        try {
          // A dumper that stalls would hold the backup (and a daemon's later jobs) for ever once the server is gone.
          await stopReading.during((reason) => dump.destroy(reason), async () => {
            if (chunks) {
              dumpBytes = await chunks.sendFile(dumpEntryMeta(file.path), dump);
              onBytes(dumpBytes);
            } else {
              await stream!.send({ message: { $case: 'entry', value: { meta: dumpEntryMeta(file.path), sameAsParent: false } } });
              await sendContent(stream!, dump, (count) => {
                dumpBytes += count;
                onBytes(count);
              });
            }
          });
        } catch (error) {
          dump.destroy(); // its FIFO's fd: the daemon lives on after a failed backup
          throw error;
        }
        if (dumpBytes === 0) emptyDumps.push(file);
        progress.files++;
        hasDumps = true;
        report();
      }
      await dumps.finish();
      dumps = undefined;
      refuseEmptyCommandDumps(emptyDumps, options);
    }

    const sender = new EntrySender(stream, chunks ?? batcher, parent, progress, chunks, stopReading);
    let walkedEntries = 0;
    const loop = new LoopYield();
    for (const walked of walk({
      includes: config.includes, excludeRegex: config.excludeRegex, readAllFifos: config.readAllFifos,
      skipPaths: ownFolders(config.workDirectory),
      onWarning: (message) => progress.warnings.push(message),
      onUnreadable: (path, reason) => progress.unreadable.push({ path, reason }),
    })) {
      options.signal?.throwIfAborted();
      // Awaited only when something waits: an unchanged file of one link joining a carried run (from a
      // server that takes them) makes no promise at all.
      const sending = sender.send(walked);
      if (sending !== undefined) await sending;
      walkedEntries++;
      report();
      const turn = loop.turn();
      if (turn !== undefined) await turn;
    }
    await sender.finish();
    parent.close();
    if (walkedEntries === 0 && !hasDumps && progress.unreadable.length > 0) {
      throw new BackupError('IO', `nothing could be read: ${progress.unreadable.map((item) => `${item.path}: ${item.reason}`).slice(0, 5).join('; ')}`);
    }
    await (chunks ?? batcher).flush();
    // A Ctrl-C during the last entry (a big file read to its end) is still before the commit: nothing is committed.
    options.signal?.throwIfAborted();
    const warnings = [...progress.unreadable.map((item) => `${item.path}: ${item.reason}`), ...progress.warnings].slice(0, MAX_COMMIT_WARNINGS);
    options.onCommit?.();
    await stream.send({ message: { $case: 'commit', value: { warnings, unreadableFiles: progress.unreadable.length } } });
    const summary = await stream.finish();
    progress.sentBytes = chunks ? chunks.sent.encodedBytes : progress.bytesRead;
    return { summary, progress, durationMs: Date.now() - startedAt };
  } catch (error) {
    const reason = errorMessage(error);
    await dumps?.abort().catch(() => undefined);
    if (stream) {
      markReachedServer(error);
      await stream.abort(reason);
    }
    throw error;
  } finally {
    stopReading?.dispose();
    parent?.close();
    await chunks?.close();
    client.close();
  }
}

/**
 * A server older than this client ignores the EntryMeta fields it does not know, and committed the backup
 * with exit 0 all the same: inode flags (before 7 December), and before 2 December xattrs, ACLs, extents
 * (a sparse file came back as its data alone) and hard-link targets (a later link came back empty).
 * Refused before any dump starts or anything is sent: nothing reaches the server, nothing is lost unsaid.
 */
function refuseOlderServer(parent: ParentIndex, address: string): void {
  if (parent.keepsInodeFlags) return;
  throw new ProtocolError(`the backup server at ${address} runs a cpsbackup older than this client's: it does not keep inode flags `
    + '(chattr), and one from before 2 December neither extended attributes, ACLs, holes of sparse files nor hard links, '
    + 'so a backup there would lose them without a word; not backed up: upgrade cpsbackup on the server first');
}

/**
 * A complete dump of a command source that exited 0 and wrote nothing fails the backup as a failed
 * dumper does: it was stored as an empty dump with exit 0, the database in no backup (a wrapper whose
 * output went elsewhere). Other kinds write a file per table or collection, which may be empty, and the
 * sqlite kind checks its own; a partial dump of no changes is empty by right.
 */
function refuseEmptyCommandDumps(emptyDumps: readonly DumpFile[], options: BackupOptions): void {
  for (const file of emptyDumps) {
    const source = options.storage?.sources.find((candidate) => candidate.name === file.sourceName);
    if (source?.kind !== 'command' || isPartialDump(source, options.partialSince)) continue;
    throw new DumpFailedError(source.name, `${file.path}: the dump command exited 0 but wrote nothing: an empty dump is no backup of the data (does the command write the dump to its standard output?)`);
  }
}
