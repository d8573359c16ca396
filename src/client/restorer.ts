// `cpsbackup -i`: restores a backup (or the part asked for) into a RestoreTree, the target folder or
// the original paths, through a tree that never writes outside it or through a symlink.
import type { NodeConfig } from '../common/config/node-config';
import type { BackupSummary, RestoreResponse } from '../proto/cpsbackup';
import { connectToServer } from './connection';
import { fromServiceError } from './remote-error';
import { RestoreTree } from './restore-tree/restore-tree';
import { removeMadeFolders } from './restore-tree/target-root';
import { restoreMessageItems } from './restore-messages';
import { ChunkDecoderPool } from './restore-decoding/chunk-decoder-pool';
import { RestoreWriter, type RestoreOutcome } from './restore-writer';
import type { OverwritePolicy } from './overwrite-policy';
import { DiskFullError, ProtocolError } from '../common/errors';
import { SelectionCheck } from './selection-check';
import { RequestedEntries } from './requested-entries';
import type { DumpPlace } from './dump-place';
import type { WrittenDump } from './sources/written-dump';
import { LoopYield } from '../common/loop-yield';

/** The protocol this restorer speaks: it writes hard links, holes and special files back. */
const PROTOCOL_VERSION = 2;

export interface RestoreOptions {
  readonly backupId: number;       // 0: newest
  readonly to?: string;            // undefined: original paths
  readonly clientName?: string;    // another client's backups (restore_client)
  /** Only these paths and what lies below them. */
  readonly paths?: readonly (string | Buffer)[];
  /** Only paths matching this regular expression (and the folders above them). */
  readonly pathRegex?: string;
  /** Leading path components dropped (needs `to`). */
  readonly strip?: number;
  /**
   * Leave out the dumps (FIFO-content entries) and the folders holding nothing else: a receiver's files.
   * Fails before writing anything against a server that would send them all the same.
   */
  readonly skipFifoContent?: boolean;
  /** What to do where something else exists already; default 'never' (keep it, and say so). */
  readonly overwrite?: OverwritePolicy;
  readonly onProgress?: (progress: RestoreProgress) => void;
  /**
   * A restore that stops (the server gone, a full disk, a protocol error) throws; what it had found not
   * restored as in the backup by then goes here first, else it was never said.
   */
  readonly onStopped?: (gaps: RestoreGaps) => void;
  /**
   * Aborted (Ctrl-C, a daemon stopped by force): the restore stops at its next entry, a read waiting on the
   * server included; the entry being written is left as if not reached. Then it stops as on any failure
   * (onStopped, then thrown: the signal's reason).
   */
  readonly signal?: AbortSignal;
}

/** What a restore did not restore as it is in the backup. */
export type RestoreGaps = Pick<RestoreResult, 'failures' | 'keptExisting' | 'needsRoot'>;

export interface RestoreProgress {
  /** Files written (new or replaced). */
  files: number;
  /** Content bytes received, written or compared with a file already there. */
  bytes: number;
  /** Content bytes of the files written. */
  writtenBytes: number;
}

export interface RestoredEntry {
  readonly originalPath: string;
  readonly localPath: string;
  /** A dump's file as this restore wrote and checked it: its load refuses any other. */
  readonly written?: WrittenDump;
}

export interface RestoreResult {
  readonly backup: BackupSummary;
  readonly progress: RestoreProgress;
  /** Entries not restored as they are in the backup (exit 3). */
  readonly failures: readonly string[];
  /** Existing entries kept because they differ from the backup and --overwrite did not allow replacing them. */
  readonly keptExisting: readonly string[];
  /** Entries or attributes skipped because they need root. */
  readonly needsRoot: readonly string[];
  /** Entries that were FIFOs (dumps): restored as regular files, ready for their loaders. */
  readonly dumpFiles: readonly RestoredEntry[];
}

export async function runRestore(config: NodeConfig, options: RestoreOptions): Promise<RestoreResult> {
  if ((options.strip ?? 0) > 0 && options.to === undefined) {
    throw new ProtocolError('--strip needs --to: stripped paths have no original place');
  }
  const isSkippingDumps = options.skipFifoContent === true;
  const signal = options.signal;
  signal?.throwIfAborted();
  const client = connectToServer(config);
  let tree: RestoreTree | undefined;
  let backup: BackupSummary | undefined;
  let decoder: ChunkDecoderPool | undefined;
  let writer: RestoreWriter | undefined;
  let stopReading: (() => void) | undefined;
  try {
    tree = await RestoreTree.open(options.to ?? '/');
    const restoring: RestoreWriter = new RestoreWriter(tree, {
      strip: options.strip ?? 0, overwrite: options.overwrite ?? 'never', isRoot: process.geteuid?.() === 0, signal, dumpPlace: dumpPlaceOf(config, options),
      ...(process.geteuid === undefined ? {} : { restoringUser: { uid: process.geteuid() } }),
    }, () => options.onProgress?.(progressOf(restoring.outcome)));
    writer = restoring;
    const selection = new SelectionCheck(options.paths ?? [], options.pathRegex ?? '');
    const requested = new RequestedEntries(selection.paths, options.pathRegex ?? '');
    // One thread decodes and checks chunks while this one writes files: more would compete with the
    // writes (and, on a small machine, with the server) for the same cores.
    decoder = new ChunkDecoderPool(1);
    const call = client.restore({
      backupId: options.backupId, clientName: options.clientName ?? '', acceptsBatches: true, protocolVersion: PROTOCOL_VERSION,
      paths: selection.paths, pathRegex: options.pathRegex ?? '', skipFifoContent: isSkippingDumps, strip: options.strip ?? 0,
    });
    // A read waiting on the server (a slow store, a large file's next frame) ends now, not at its next message.
    stopReading = () => call.cancel();
    signal?.addEventListener('abort', stopReading, { once: true });
    signal?.throwIfAborted(); // aborted before the listener was there
    const items = restoreMessageItems(call as AsyncIterable<RestoreResponse>, (summary) => { backup = summary; }, decoder, isSkippingDumps);
    // Every file is written by synchronous system calls, its content decoded ahead, and the next batches (up to 1,024
    // files each) are often read already: without a turn between entries the event loop stood still for as long as
    // those took to write (14 s seen at load 24), no HTTP/2 ping was answered meanwhile, and the server's keepalive
    // (its network_timeout) dropped the connection mid-restore.
    const loopYield = new LoopYield();
    // Defense in depth: what the server sends beyond what was asked is refused, never written (as root, in place).
    for await (const item of requested.only(items)) {
      signal?.throwIfAborted();
      selection.saw(item.meta.path);
      await restoring.write(item);
      const turn = loopYield.turn();
      if (turn !== undefined) await turn;
    }
    restoring.finish();
    restoring.outcome.failures.push(...selection.unmatched(backup!.backupId));
    return resultOf(backup!, restoring.outcome);
  } catch (error) {
    // The folders made so far get their metadata all the same: left 0700, a rerun would keep them so.
    try {
      writer?.finish();
    } catch {
      // the failure being reported matters more (a full disk fails this too)
    }
    if (writer !== undefined) options.onStopped?.(writer.outcome);
    // Refused before anything came (no such backup, no right to it): the folders this restore made for
    // it go again, the target and those above it, so a mistyped id leaves nothing behind. Only while
    // empty: rmdir removes nothing else, and the first that is not empty (or gone) ends it.
    if (backup === undefined && tree !== undefined && options.to !== undefined) removeMadeFolders(tree.madeFolders);
    // Whatever read or write met the interruption first (the cancelled call's CANCELLED among them).
    if (signal?.aborted) throw signal.reason;
    if (error instanceof DiskFullError) throw error;
    throw fromServiceError(error, `${config.server}:${config.port}`);
  } finally {
    if (stopReading !== undefined) signal?.removeEventListener('abort', stopReading);
    tree?.close();
    client.close();
    await decoder?.close();
  }
}

/**
 * Where this restore's dumps are: in place, where this node makes its own (a server's mark must not let it
 * replace any file it names); another node's backup restored --to a folder (a receiver's) has them wherever its
 * work folder was, which is not known here, and what they replace lies in the target.
 */
function dumpPlaceOf(config: NodeConfig, options: RestoreOptions): DumpPlace {
  const isOtherNode = options.clientName !== undefined && options.clientName !== '';
  return options.to !== undefined && isOtherNode ? 'any dumps folder' : { workDirectory: config.workDirectory };
}

function progressOf(outcome: RestoreOutcome): RestoreProgress {
  return { files: outcome.files, bytes: outcome.bytes, writtenBytes: outcome.writtenBytes };
}

function resultOf(backup: BackupSummary, outcome: RestoreOutcome): RestoreResult {
  return {
    backup, progress: progressOf(outcome), failures: outcome.failures, keptExisting: outcome.keptExisting,
    needsRoot: outcome.needsRoot, dumpFiles: outcome.dumpFiles,
  };
}
