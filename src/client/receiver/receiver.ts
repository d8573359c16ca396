// `cpsbackup -i --client PROD --if-new`: loads every backup of another client newer than the last
// one applied here into this node's own databases, runs postprocess, and only then records it.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodeConfig } from '../../common/config/node-config';
import { ConfigError, CorruptError, LoadFailedError, LostLinkError } from '../../common/errors';
import type { BackupSummary } from '../../proto/cpsbackup';
import { dumpPathsOf, listBackups } from '../catalog-calls';
import { untilAborted } from '../../common/until-aborted';
import { connectToServer } from '../connection';
import { isPartial } from '../partial-chain';
import { runRestore, type RestoreGaps } from '../restorer';
import { dumpSourceOfPath, loadRestoredDumps, type LoadResult } from '../sources/loaders';
import { dumpCoverage, dumpFolderSources, isReceived, type UnclaimedDump } from './dump-coverage';
import { receiveGapsOf } from './receive-gaps';
import type { StorageConfig } from '../sources/storage-config';
import type { LoadInto } from '../sources/load-into';
import { partialDumpsOf } from '../sources/partial-dumps';
import type { OverwritePolicy } from '../overwrite-policy';
import { runPostprocess } from './postprocess';
import { receiveFiles, type FilesReceived } from './receive-files';
import { acquireReceiveLock } from './receive-lock';
import { withRestoreLock } from '../backup-lock';
import { isAppliedBackup, planReceive } from './receive-plan';
import { appliedBackupOf, OWN_BACKUPS_KEY, readReceiveState, writeReceiveState, type ReceiveState } from './receive-state';
import { RECEIVE_FOLDER } from '../own-folders';
import { receiveTargetOf } from './receive-target';
import { lostDumpReason, unmendedLostLinks } from '../lost-dumps';

export interface ReceiveOptions {
  /** The client whose backups to load (restore_client on the server); undefined: this node's own. */
  readonly clientName?: string;
  readonly storage: StorageConfig | undefined;
  /** Only the database sources it names are loaded, into the databases it names (storage.conf's load_into otherwise). */
  readonly loadInto?: LoadInto;
  /** Overrides node.conf's receive_overwrite for the sender's files (receive_files = 1), as -i --overwrite. */
  readonly overwrite?: OverwritePolicy;
  /** Progress for a person or a log, one line per event. */
  readonly onEvent?: (message: string) => void;
  /** A restore of this receive stopped with an error (thrown): what it had not restored as in the backup by then. */
  readonly onStopped?: (gaps: RestoreGaps) => void;
  /** Aborted (the daemon stopped by force, Ctrl-C of -i --if-new): a restore stops at its next entry, nothing more is started, nothing recorded. */
  readonly signal?: AbortSignal;
}

export interface ReceivedBackup {
  readonly backup: BackupSummary;
  readonly loads: readonly LoadResult[];
  /** Dump files not restored: of sources this node's storage.conf does not name, or --load-into does not. */
  readonly ignoredDumps: readonly string[];
  /** Of those, the dumps no source here names: the sender's data this replica does not get (exit 3). */
  readonly unclaimedDumps: readonly UnclaimedDump[];
  /** Sources named here that the backup holds no dump of: they stay as they were (exit 3). */
  readonly absentSources: readonly string[];
  /** Sources whose dumps were left out on purpose (receive_ignore, --load-into, no storage.conf): see DumpCoverage. */
  readonly skippedSources: readonly string[];
}

export interface ReceiveResult {
  /** The state before this run: what was already applied. */
  readonly previous: ReceiveState | undefined;
  /** The backup `previous` names as the server lists it now (check --repair may have marked it incomplete since); undefined when not listed as applied. */
  readonly lastApplied?: BackupSummary;
  /** Empty when nothing newer than `previous` exists. */
  readonly applied: readonly ReceivedBackup[];
  readonly state: ReceiveState | undefined;
  /** With receive_files = 1, the newest applied backup's files restored under receive_to. */
  readonly files?: FilesReceived;
  /** Why this receive started again from a complete backup although one was applied (planReceive's `rebased`): exit 3. */
  readonly rebased?: string;
}

/**
 * Idempotent: the state moves only after every load and the postprocess succeeded, so a run that
 * fails anywhere leaves it unchanged and the next run starts again from the same point (complete
 * loads replace, partial loads are upserts, so re-applying them is harmless). Throws LoadFailedError
 * for a failed load or postprocess; LostLinkError, before anything loads, for a backup of the plan that lost its dump
 * of a source loaded here and no later one dumps it whole (lost-dumps.ts);
 * CorruptError for dump files that could not be restored.
 */
export async function runReceive(config: NodeConfig, options: ReceiveOptions): Promise<ReceiveResult> {
  const storage = options.storage;
  // A files-only receiver (receive_files = 1) needs no databases; dumps then stay on the server.
  if (storage === undefined && config.receiveFiles === undefined) {
    throw new ConfigError(config.file, undefined, 'receiving needs a storage.conf naming this node\'s databases (storage_conf =), or receive_files = 1');
  }
  // Not beside a backup of this node, nor a restore into it: the backup would read databases half loaded, and a
  // restore would load into the same databases (backup-lock.ts). Refused at once, naming the other's pid.
  return withRestoreLock(config, 'receive', () => receiveHeld(config, options, storage), (warning) => options.onEvent?.(`warning: ${warning}`));
}

async function receiveHeld(config: NodeConfig, options: ReceiveOptions, storage: ReceiveOptions['storage']): Promise<ReceiveResult> {
  const clientKey = options.clientName ?? OWN_BACKUPS_KEY;
  const lock = await acquireReceiveLock(config.stateDirectory, clientKey);
  try {
    const previous = await readReceiveState(config.stateDirectory, clientKey);
    const address = `${config.server}:${config.port}`;
    const client = connectToServer(config);
    let plan: BackupSummary[];
    let dumpPaths: Map<number, string[]>;
    let lastApplied: BackupSummary | undefined;
    let rebased: string | undefined;
    try {
      // Ctrl-C ends these waits too: on a server that stopped answering they would not end on their own.
      const stop = (): void => client.close();
      const backups = await untilAborted(listBackups(client, address, options.clientName), options.signal, stop);
      const applied = previous === undefined ? undefined : appliedBackupOf(previous);
      lastApplied = applied === undefined ? undefined : backups.find((backup) => isAppliedBackup(backup, applied));
      ({ load: plan, rebased } = planReceive(backups, applied, options.clientName ?? 'this node'));
      // A source whose dumps were not loaded here since the last complete backup (no source of that name,
      // receive_ignore, --load-into), loaded now: partials would land on a database that never had its base.
      const notLoaded = [...new Set([...previous?.unloadedSources ?? [], ...previous?.skippedSources ?? []])];
      const nowNamed = storage === undefined ? [] : notLoaded.filter((name) => isReceived(storage, name, options.loadInto, config.receiveIgnore));
      // A source loaded elsewhere last time (--load-into, an edited storage.conf): the partials to come stand on a
      // base its target here never had; the run went on and exited 0 (found by review).
      const moved = storage === undefined ? [] : Object.entries(previous?.loadedInto ?? {}).flatMap(([name, was]) => {
        const source = storage.sources.find((candidate) => candidate.name === name);
        if (source === undefined || !isReceived(storage, name, options.loadInto, config.receiveIgnore)) return [];
        return receiveTargetOf(source, options.loadInto) === was ? [] : [name];
      });
      if (nowNamed.length > 0 && (plan.length === 0 || isPartial(plan[0]))) {
        options.onEvent?.(`${nowNamed.join(', ')}: not loaded here since the last complete backup applied, received now: starting again from the complete backup`);
        plan = planReceive(backups, undefined).load;
      } else if (moved.length > 0 && (plan.length === 0 || isPartial(plan[0]))) {
        options.onEvent?.(`${moved.join(', ')}: loaded into another target here last time, so the partials to come have no base there: `
          + 'starting again from the complete backup');
        plan = planReceive(backups, undefined).load;
      } else if (previous !== undefined && previous.loadedInto === undefined && storage !== undefined && plan.length > 0 && isPartial(plan[0])) {
        // A state from before targets were recorded: where its sources went is unknown, so partials are not put on it once.
        options.onEvent?.('the receive state does not say where each source was loaded (written by an older cpsbackup): '
          + 'starting again from the complete backup once');
        plan = planReceive(backups, undefined).load;
      }
      dumpPaths = await untilAborted(dumpPathsOf(client, address, options.clientName ?? '', plan), options.signal, stop);
    } finally {
      client.close();
    }
    if (plan.length === 0) return { previous, lastApplied, applied: [], state: previous };

    // A link gone for a source (check --repair took its dump out) that no later backup of the plan mends by a whole
    // dump: loading on, or recording the run, would put the later partials on a state it never had (found by review:
    // warned of as an absent source, and recorded). Judged on the whole plan before anything loads (found by review:
    // judged backup by backup, every run loaded the complete backup again before it refused).
    if (storage !== undefined) {
      const lost = unmendedLostLinks(plan, dumpPaths, (name) => isReceived(storage, name, options.loadInto, config.receiveIgnore));
      if (lost.length > 0) throw lostLinkError(lost, options.clientName ?? 'this node');
    }
    const target = join(config.workDirectory, RECEIVE_FOLDER, clientKey);
    const applied: ReceivedBackup[] = [];
    for (const backup of plan) {
      options.signal?.throwIfAborted();
      const dumps = dumpPaths.get(backup.backupId) ?? [];
      if (storage !== undefined) applied.push(await receiveOne(config, storage, backup, dumps, target, options));
      else {
        if (dumps.length > 0) options.onEvent?.(`backup ${backup.backupId}: ${dumps.length} dumps not loaded (no storage.conf)`);
        applied.push({ backup, loads: [], ignoredDumps: dumps, unclaimedDumps: [], absentSources: [], skippedSources: dumpFolderSources(dumps) });
      }
    }
    const newest = plan[plan.length - 1];
    let files: FilesReceived | undefined;
    // After the databases, before postprocess: a replica's postprocess may need both.
    if (config.receiveFiles !== undefined) {
      options.signal?.throwIfAborted();
      files = await receiveFiles(config, config.receiveFiles, newest, options.clientName, options.overwrite, options.onStopped, options.signal);
      options.onEvent?.(`backup ${newest.backupId}: ${files.files} files restored under ${files.to} (overwrite: ${files.overwrite})`);
    }
    const kind = isPartial(newest) ? 'partial' : 'complete';
    const clientLabel = options.clientName ?? 'own backups';
    options.signal?.throwIfAborted();
    if (config.postprocess !== undefined) {
      options.onEvent?.(`running postprocess: ${config.postprocess}`);
      await runPostprocess(config.postprocess, {
        client: options.clientName ?? '', backupId: newest.backupId, kind, appliedBackupIds: plan.map((backup) => backup.backupId),
      });
    }
    const state: ReceiveState = {
      client: clientLabel, backupId: newest.backupId, kind,
      backupStartedAt: new Date(newest.startedAtMs).toISOString(), appliedAt: new Date().toISOString(),
      ...receiveGapsOf(previous, applied),
      ...loadedIntoAfter(previous, applied, storage, options.loadInto),
    };
    // A postprocess stopped by force may have exited 0 on its SIGTERM: it did not finish.
    options.signal?.throwIfAborted();
    await writeReceiveState(config.stateDirectory, clientKey, state);
    await rm(target, { recursive: true, force: true });
    return { previous, lastApplied, applied, state, files, rebased };
  } finally {
    await lock.release();
  }
}

/** previous.loadedInto with each source this run loaded set to where it went. */
function loadedIntoAfter(previous: ReceiveState | undefined, applied: readonly ReceivedBackup[], storage: StorageConfig | undefined,
  loadInto: LoadInto | undefined): Pick<ReceiveState, 'loadedInto'> {
  // From a complete backup on, only what it and its partials loaded: a source it holds no dump of has no base here
  // (kept, it counted as moved at every run, and each run started again from the complete backup; found by review).
  // A state from before targets were kept, followed by partials only: still unknown, so still unmarked (its
  // restart comes with the next receive that has a storage.conf).
  if (previous !== undefined && previous.loadedInto === undefined && (applied[0] === undefined || isPartial(applied[0].backup))) return {};
  const loadedInto: Record<string, string> = applied[0] !== undefined && !isPartial(applied[0].backup) ? {} : { ...previous?.loadedInto ?? {} };
  for (const { loads } of applied) {
    for (const load of loads) {
      const source = storage?.sources.find((candidate) => candidate.name === load.sourceName);
      if (load.ok && source !== undefined) loadedInto[load.sourceName] = receiveTargetOf(source, loadInto);
    }
  }
  // Written even when empty: its absence marks a state from before targets were recorded.
  return { loadedInto };
}

/** The warnings of the loads that ran (a partition kept here as a table of its own), each naming its source and backup. */
export function loadWarningsOf(applied: readonly ReceivedBackup[]): string[] {
  return applied.flatMap(({ backup, loads }) => loads.flatMap((load) => (load.warnings ?? []).map((warning) =>
    `load of ${load.sourceName} from backup ${backup.backupId}: ${warning}`)));
}

function lostLinkError(lost: readonly { readonly sourceName: string; readonly backup: BackupSummary }[], clientName: string): LostLinkError {
  const names = lost.map(({ sourceName }) => sourceName).join(', ');
  const each = lost.map(({ sourceName, backup }) => `${isPartial(backup) ? 'partial' : 'complete'} backup ${backup.backupId} says it dumped ${sourceName}, `
    + `but ${lostDumpReason(backup)}`).join('; ');
  return new LostLinkError(names, `${each}: nothing loaded and nothing recorded; take a complete backup of ${clientName} (-e): `
    + 'it starts the chain again (the daemon does not retry this)');
}

/** Restores one backup's dump files (only those of sources named here) under `target` and loads them. */
async function receiveOne(config: NodeConfig, storage: StorageConfig, backup: BackupSummary, dumpPaths: readonly string[],
  target: string, options: ReceiveOptions): Promise<ReceivedBackup> {
  const kind = isPartial(backup) ? 'partial' : 'complete';
  const { wanted, unclaimed, notSelected, ignored, absentSources, skippedSources } = dumpCoverage(storage, config.workDirectory, dumpPaths, options.loadInto, config.receiveIgnore);
  for (const path of notSelected) options.onEvent?.(`backup ${backup.backupId}: ${path} skipped, not named by --load-into`);
  for (const path of ignored) options.onEvent?.(`backup ${backup.backupId}: ${path} skipped, its source is in receive_ignore`);
  const ignoredDumps = [...unclaimed.map(({ path }) => path), ...notSelected, ...ignored];
  // Dumps, none of them named here: most likely a misnamed source, and recording it as applied would hide
  // that. Those receive_ignore leaves out were left out on purpose.
  const unmatched = [...unclaimed.map(({ path }) => path), ...notSelected];
  if (wanted.length === 0 && unmatched.length > 0) {
    throw new ConfigError(storage.file, undefined, `no source here matches a dump of backup ${backup.backupId} `
      + `(${unmatched.join(', ')}); sources are matched by name`);
  }
  const gaps = { unclaimedDumps: unclaimed, absentSources, skippedSources };
  // An empty path list would restore the whole backup.
  if (wanted.length === 0) return { backup, loads: [], ignoredDumps, ...gaps };
  const restore = await runRestore(config, {
    backupId: backup.backupId, to: target, clientName: options.clientName, paths: wanted, onStopped: options.onStopped, signal: options.signal,
  });
  if (restore.failures.length > 0) {
    throw new CorruptError(`backup ${backup.backupId}: dump files not restored: ${restore.failures.join('; ')}`);
  }
  const dumps = restore.dumpFiles.flatMap((file) => {
    const sourceName = dumpSourceOfPath(storage, config.workDirectory, file.originalPath);
    return sourceName === undefined ? [] : [{ path: file.localPath, sourceName, written: file.written }];
  });
  const loads = await loadRestoredDumps(storage, dumps, {
    partial: partialDumpsOf(backup), loadInto: options.loadInto, workDirectory: config.workDirectory, signal: options.signal,
  });
  for (const load of loads) {
    options.onEvent?.(load.ok ? `loaded ${load.sourceName} from ${kind} backup ${backup.backupId}${load.notApplied === undefined ? '' : `; ${load.path} ${load.notApplied}`}`
      : `load of ${load.sourceName} from ${kind} backup ${backup.backupId} failed, ${load.path} kept: ${load.error}`);
  }
  const failed = loads.filter((load) => !load.ok);
  // Later partials on top of a database that did not load would build a state that never existed.
  if (failed.length > 0) {
    throw new LoadFailedError(failed.map((load) => load.sourceName).join(', '),
      `backup ${backup.backupId} did not load (${failed.map((load) => load.error).join('; ')}); nothing recorded, the next run retries`);
  }
  return { backup, loads, ignoredDumps, ...gaps };
}
