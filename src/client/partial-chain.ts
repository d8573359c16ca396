// Which backups a partial backup stands on: the chain (last complete backup, then every later
// partial up to the chosen one) its restore must apply. The `since` of a new one: partial-since.ts.
import type { NodeConfig } from '../common/config/node-config';
import { NotFoundError } from '../common/errors';
import { BackupKind, type BackupSummary } from '../proto/cpsbackup';
import { dumpPathsOf, listBackups } from './catalog-calls';
import { untilAborted } from '../common/until-aborted';
import { connectToServer } from './connection';
import { runRestore, type RestoreGaps, type RestoreProgress, type RestoreResult } from './restorer';
import type { OverwritePolicy } from './overwrite-policy';
import { dumpFolderSourceOf, dumpSourceOfPath, loadRestoredDumps, unclaimedDumpSourceName, type LoadResult } from './sources/loaders';
import type { StorageConfig } from './sources/storage-config';
import { loadIntoFor, type LoadInto } from './sources/load-into';
import { compileLinearRegex } from '../common/linear-regex';
import { escapeBytes } from '../common/escape-bytes';
import { partialDumpsOf, partialOf } from './sources/partial-dumps';
import { alwaysWrittenFiles, isDumpedWhole, lostDumpSources } from './lost-dumps';
import { dumpSourcesOf } from './sources/source-identity';
import { DUMPS_FOLDER } from './sources/dump-names';
import { join } from 'node:path';

const ROOT = Buffer.from('/');

function byNumber(backups: readonly BackupSummary[]): BackupSummary[] {
  return [...backups].sort((left, right) => left.backupId - right.backupId);
}

/**
 * The backups to restore, in order, for `backupId` (0: the newest): a complete backup alone, or
 * for a partial one the last complete backup before it followed by every partial after that one
 * up to and including it. Throws NotFoundError if the id is unknown or no complete backup
 * precedes the partial (retention removed it).
 */
export function restoreChain(backups: readonly BackupSummary[], backupId: number): BackupSummary[] {
  const ordered = byNumber(backups);
  const index = backupId === 0 ? ordered.length - 1 : ordered.findIndex((backup) => backup.backupId === backupId);
  if (index < 0) throw new NotFoundError(backupId === 0 ? 'no backup to restore' : `no backup ${backupId}`);
  for (let start = index; start >= 0; start--) {
    if (ordered[start].kind !== BackupKind.BACKUP_KIND_PARTIAL) return ordered.slice(start, index + 1);
  }
  throw new NotFoundError(`backup ${ordered[index].backupId} is partial and no complete backup precedes it `
    + '(removed by retention?): restore it with --no-load to get its dump files only');
}

/**
 * The backups to load in turn, once each partial among them (after the first) holds the changes since
 * the backup before it or earlier: one that continues a later backup, gone from the list (deleted, or
 * dropped by an older server's retention), would be loaded without that link's changes, a state that
 * never existed. One continuing an earlier backup (a complete one committed while it started) covers more.
 */
export function unbroken(chain: BackupSummary[]): BackupSummary[] {
  for (let index = 1; index < chain.length; index++) {
    const follows = partialOf(chain[index]);
    if (follows === undefined || follows <= chain[index - 1].backupId) continue;
    throw new NotFoundError(`partial backup ${chain[index].backupId} holds the changes since backup ${follows}, which is gone: loaded on `
      + `backup ${chain[index - 1].backupId} it would miss what changed in between; restore backup ${chain[index - 1].backupId}, `
      + 'or a complete backup, or this one with --no-load to get its dump files only');
  }
  return chain;
}

export function isPartial(backup: BackupSummary): boolean {
  return backup.kind === BackupKind.BACKUP_KIND_PARTIAL;
}

export interface ChainStep {
  readonly backup: BackupSummary;
  /** Only dump files were restored: the backups before the chosen one, and every backup with loadInto. */
  readonly isDumpsOnly: boolean;
  readonly restore: RestoreResult;
  readonly loads: readonly LoadResult[];
  /** A dumps-only step whose restore failed: none of its dumps was loaded (loads is empty). */
  readonly isNotLoaded?: boolean;
}

/**
 * A source whose dump failed to restore or load, or is gone from a backup that says it dumped it (lost:
 * check --repair took it out): the later backups of the chain that held a dump of it were not loaded for it.
 */
export interface StoppedSource {
  readonly sourceName: string;
  readonly failedAt: BackupSummary;
  readonly failed: 'restore' | 'load' | 'lost';
  readonly notApplied: BackupSummary[];
}

export interface ChainRestoreOptions {
  readonly backupId: number;       // 0: newest
  readonly to?: string;
  readonly clientName?: string;
  readonly storage: StorageConfig;
  /** The last backup's selection and the overwrite policy (RestoreOptions'). */
  readonly paths?: readonly Buffer[];
  readonly pathRegex?: string;
  readonly strip?: number;
  readonly overwrite?: OverwritePolicy;
  /** Restore and load only the dumps of the database sources it names, into the databases it names. */
  readonly loadInto?: LoadInto;
  /** Sources whose dumps are restored but never loaded (node.conf's receive_ignore, for another client's backups). */
  readonly ignoredSources?: readonly string[];
  readonly onProgress?: (backup: BackupSummary, progress: RestoreProgress) => void;
  /** A step's restore stopped with an error (thrown): what it had not restored as in the backup by then. */
  readonly onStopped?: (backup: BackupSummary, gaps: RestoreGaps) => void;
  /** Called as each backup of the chain is done, so a long chain reports as it goes. */
  readonly onStep?: (step: ChainStep) => void;
  /**
   * Aborted (Ctrl-C): a step's restore stops at its next entry (onStopped, then thrown); a step whose loads
   * had begun loads nothing more (loads not started are kept as files) and is reported (onStep) before the
   * signal's reason is thrown. A loader already running is not stopped here: the caller stops its process group.
   */
  readonly signal?: AbortSignal;
}

export interface ChainRestoreResult {
  readonly steps: readonly ChainStep[];
  /** The backups not applied at all because an earlier step's dumps failed to restore. */
  readonly skipped: readonly BackupSummary[];
  /** Sources whose load failed, and what of the chain was then not loaded for them (the others went on). */
  readonly stoppedSources: readonly StoppedSource[];
}

/**
 * Restores `backupId` and loads its dumps; for a partial backup first restores and loads the dumps
 * of every backup its chain needs, in order (complete loaders first, then partial ones: upserts).
 * A source whose dump fails to restore or load, or is gone from a backup that says it dumped it
 * (lost-dumps.ts), gets none of its later dumps (a lost one: none until a later link dumps it whole): applying later partials
 * on top of a database that did not load would give a state that never existed. The other sources go
 * on to the chosen backup: stopping them too left a source loaded from the first step and never
 * brought forward, so its database held neither what was there nor what was asked for (found by
 * review). A dumps-only step whose restore failed in a way no dump file shows (every one restored)
 * loads nothing, and the chain stops there, so every source is left at a state it had. Earlier steps restore only
 * their dump files (the chosen backup is a full copy of every other file). With loadInto every
 * step restores only the dumps it loads: a staging load leaves every other file alone.
 */
export async function restoreChainAndLoad(config: NodeConfig, options: ChainRestoreOptions): Promise<ChainRestoreResult> {
  const address = `${config.server}:${config.port}`;
  const client = connectToServer(config);
  let chain: BackupSummary[];
  let dumpPaths: Map<number, string[]>;
  let chosenDumpPaths: string[] | undefined;
  try {
    // Ctrl-C ends these waits too: on a server that stopped answering they would not end on their own.
    const stop = (): void => client.close();
    chain = unbroken(restoreChain(await untilAborted(listBackups(client, address, options.clientName), options.signal, stop), options.backupId));
    dumpPaths = await untilAborted(dumpPathsOf(client, address, options.clientName ?? '', options.loadInto === undefined ? chain.slice(0, -1) : chain),
      options.signal, stop);
    // The chosen backup is restored whole, so its dumps are listed apart, and only when it may have lost one: an
    // incomplete backup (check --repair takes damaged files out); in a complete one every source it names dumped.
    const last = chain[chain.length - 1];
    if (options.loadInto === undefined && last.unreadableFiles > 0) {
      chosenDumpPaths = (await untilAborted(dumpPathsOf(client, address, options.clientName ?? '', [last]), options.signal, stop)).get(last.backupId);
    }
  } finally {
    client.close();
  }
  const listed = chosenDumpPaths === undefined ? dumpPaths : new Map([...dumpPaths, [chain[chain.length - 1].backupId, chosenDumpPaths]]);
  const lost = lostLinks(chain, listed);
  if (options.loadInto !== undefined) dumpPaths = loadedDumpPaths(config, options.storage, options.loadInto, chain, dumpPaths);
  dumpPaths = selectedDumpPaths(options, dumpPaths);
  const chosen = chain[chain.length - 1];
  if (options.loadInto !== undefined && (dumpPaths.get(chosen.backupId) ?? []).length === 0) {
    throw new NotFoundError(`backup ${chosen.backupId} holds no dump that both --load-into and the --include or -r selection cover`);
  }
  const steps: ChainStep[] = [];
  const stopped = new Map<string, StoppedSource>();
  const stop = (sourceName: string, failedAt: BackupSummary, failed: StoppedSource['failed']): void => {
    if (!stopped.has(sourceName)) stopped.set(sourceName, { sourceName, failedAt, failed, notApplied: [] });
  };
  const sourceOf = (originalPath: string): string =>
    dumpSourceOfPath(options.storage, config.workDirectory, originalPath) ?? unclaimedDumpSourceName(options.storage, originalPath);
  /** Whether a dump of this backup goes on: not when its source's load failed at an earlier step (then it is said so). */
  const isStillApplied = (backup: BackupSummary, originalPath: string): boolean => {
    const source = stopped.get(sourceOf(originalPath));
    if (source === undefined) return true;
    // A source of several files (schema and data, a collection each) may lose one and restore another at the step that stopped it.
    if (backup !== source.failedAt && !source.notApplied.includes(backup)) source.notApplied.push(backup);
    return false;
  };
  const isLoaded = isLoadedSource(config, options, chain, listed, dumpPaths);
  for (const [index, backup] of chain.entries()) {
    options.signal?.throwIfAborted();
    const lostHere = lost.get(backup.backupId) ?? [];
    // A lost link stops its source only until a link that dumps it whole: that dump replaces what the lost link
    // built on, so the source loads again from there (found by review: stopped for the rest of the chain, a
    // complete dump of a later partial was not loaded and -i exited 3, though it gave exactly the state asked for).
    for (const source of [...stopped.values()]) {
      if (source.failed === 'lost' && !lostHere.includes(source.sourceName) && isDumpedWhole(backup, source.sourceName)) stopped.delete(source.sourceName);
    }
    // A link gone for a source: its later partials would build a state that never existed (found by review: skipped as if it had dumped nothing).
    for (const sourceName of lostHere) if (isLoaded(sourceName)) stop(sourceName, backup, 'lost');
    const isDumpsOnly = index < chain.length - 1 || options.loadInto !== undefined;
    const paths = dumpPaths.get(backup.backupId)?.filter((path) => isStillApplied(backup, path));
    if (isDumpsOnly && paths?.length === 0) continue; // no dumps: nothing this step would change
    const selection = isDumpsOnly ? {} : { paths: options.paths, pathRegex: options.pathRegex, strip: options.strip };
    const restore = await runRestore(config, {
      backupId: backup.backupId, to: options.to, clientName: options.clientName, paths, ...selection, overwrite: options.overwrite,
      onProgress: (progress) => options.onProgress?.(backup, progress),
      onStopped: (gaps) => options.onStopped?.(backup, gaps), signal: options.signal,
    });
    if (isDumpsOnly && restore.failures.length > 0) {
      const restored = new Set(restore.dumpFiles.map((file) => file.originalPath));
      const lost = (paths ?? []).filter((path) => !restored.has(path));
      if (lost.length === 0) {
        const step: ChainStep = { backup, isDumpsOnly, restore, loads: [], isNotLoaded: true };
        steps.push(step);
        options.onStep?.(step);
        return { steps, skipped: chain.slice(index + 1), stoppedSources: [...stopped.values()] };
      }
      for (const path of lost) stop(sourceOf(path), backup, 'restore');
    }
    // A dump of a source storage.conf does not name (renamed since, another node's) goes to the
    // loaders too, which keep it and say so: dropped here, it was left unloaded with exit 0.
    const dumps = restore.dumpFiles.filter((file) => isStillApplied(backup, file.originalPath))
      .map((file) => ({ path: file.localPath, sourceName: sourceOf(file.originalPath), written: file.written }));
    const loads = await loadRestoredDumps(options.storage, dumps, {
      partial: partialDumpsOf(backup), loadInto: options.loadInto, workDirectory: config.workDirectory, signal: options.signal,
      ignoredSources: options.ignoredSources,
    });
    const step: ChainStep = { backup, isDumpsOnly, restore, loads };
    steps.push(step);
    options.onStep?.(step);
    // After its report: what this step restored, kept and loaded before the interruption is said.
    options.signal?.throwIfAborted();
    // A dump no source here loads is reported and kept, but later backups do not stand on it: the chain goes on.
    for (const load of loads) if (!load.ok && load.isUnclaimed !== true) stop(load.sourceName, backup, 'load');
  }
  return { steps, skipped: [], stoppedSources: [...stopped.values()] };
}

/** Each backup's lost sources (lost-dumps.ts), from its dump entries as listed; a backup not listed is not judged. */
function lostLinks(chain: readonly BackupSummary[], dumpPaths: ReadonlyMap<number, readonly string[]>): Map<number, string[]> {
  return new Map(chain.flatMap((backup) => {
    const paths = dumpPaths.get(backup.backupId);
    return paths === undefined ? [] : [[backup.backupId, lostDumpSources(backup, paths)] as const];
  }));
}

/**
 * Whether this restore would load the source of that name at some step (`dumpPaths` already cut to the
 * selection and --load-into): a lost link of a source it leaves alone changes nothing here. A source with
 * no dump left in the chain counts when nothing is selected, and with --load-into when it names it. With
 * --include or -r, a source a link's labels name counts when the selection covers a file its dump holds
 * (as listed anywhere in the chain, or always written by its kind): its dumps may be gone from every earlier
 * link (found by review: never counted, its chosen partial loaded over the lost link, exit 0).
 */
function isLoadedSource(config: NodeConfig, options: ChainRestoreOptions, chain: readonly BackupSummary[],
  listed: ReadonlyMap<number, readonly string[]>, dumpPaths: ReadonlyMap<number, readonly string[]>): (sourceName: string) => boolean {
  const selected = new Set([...dumpPaths.values()].flat().map((path) => dumpFolderSourceOf(path)));
  const isWhole = (options.paths ?? []).length === 0 && (options.pathRegex ?? '') === '';
  if (!isWhole) {
    const isSelected = selectionOf(options);
    const listedPaths = [...listed.values()].flat();
    for (const backup of chain) {
      for (const name of dumpSourcesOf(backup.labels)) {
        const folder = join(config.workDirectory, DUMPS_FOLDER, name);
        const files = [...listedPaths.filter((path) => dumpFolderSourceOf(path) === name), ...alwaysWrittenFiles(backup, name).map((file) => join(folder, file))];
        if (files.some(isSelected)) selected.add(name);
      }
    }
  }
  return (sourceName) => {
    if (selected.has(sourceName)) return true;
    if (!isWhole) return false;
    if (options.loadInto === undefined) return true;
    const source = options.storage.sources.find((candidate) => candidate.name === sourceName);
    return source !== undefined && loadIntoFor(options.loadInto, source) !== undefined;
  };
}

/**
 * With --include or -r, the earlier backups' dumps the selection covers, by the same rule the server
 * applies to the chosen one (a path at or below an include, and matching the pattern): restoring
 * /srv/app from a partial backup must not load every earlier dump into the live databases, and
 * restoring one source's dump must not take the others back to an earlier backup's state.
 */
function selectedDumpPaths(options: ChainRestoreOptions, dumpPaths: ReadonlyMap<number, string[]>): Map<number, string[]> {
  const isSelected = selectionOf(options);
  return new Map([...dumpPaths].map(([backupId, paths]) => [backupId, paths.filter(isSelected)]));
}

/** Whether --include and -r select a path (every path when neither is given). */
function selectionOf(options: ChainRestoreOptions): (path: string) => boolean {
  const includes = options.paths ?? [];
  const regex = options.pathRegex === undefined || options.pathRegex === '' ? undefined : compileLinearRegex(options.pathRegex, 'the restore pattern');
  // Compared as bytes: an include need not be UTF-8.
  const isAtOrBelow = (path: Buffer, include: Buffer): boolean => include.equals(ROOT)
    || (path.subarray(0, include.length).equals(include) && (path.length === include.length || path[include.length] === ROOT[0]));
  return (path) => (includes.length === 0 || includes.some((include) => isAtOrBelow(Buffer.from(path), include)))
    && (regex === undefined || regex.test(escapeBytes(Buffer.from(path))));
}

/** Each backup's dumps of the sources loadInto covers; NotFoundError if the chosen backup has none. */
function loadedDumpPaths(config: NodeConfig, storage: StorageConfig, loadInto: LoadInto, chain: readonly BackupSummary[],
  dumpPaths: ReadonlyMap<number, string[]>): Map<number, string[]> {
  const isLoaded = (path: string): boolean => {
    const source = storage.sources.find((candidate) => candidate.name === dumpSourceOfPath(storage, config.workDirectory, path));
    return source !== undefined && loadIntoFor(loadInto, source) !== undefined;
  };
  const loaded = new Map([...dumpPaths].map(([backupId, paths]) => [backupId, paths.filter(isLoaded)]));
  const chosen = chain[chain.length - 1];
  if ((loaded.get(chosen.backupId) ?? []).length === 0) {
    throw new NotFoundError(`backup ${chosen.backupId} holds no dump of a postgresql or mariadb source that --load-into covers `
      + `(sources are matched by name with ${storage.file})`);
  }
  return loaded;
}
