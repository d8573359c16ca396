#!/usr/bin/env node
// cpsbackup: the node's command — back up (-e), list (-l), show (-s), restore (-i), delete (-d),
// compare two backups (--diff) and search them (--find).
// One clear line per error on stderr; exit codes from exit-codes.ts.
// Each command imports what it needs when it runs: at start-up grpc, the wire contract, the restore and
// the database loaders took ~200 ms before any work. Measured: --help 0.30 s → 0.16 s (bare node 0.11 s);
// a backup (-e) loads 223 modules instead of 294. test/startup-modules.test.ts keeps it so.
import { statSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { NodeConfig } from '../common/config/node-config';
import { loadStorageConfig, type StorageConfig } from '../client/sources/storage-config';
import type { RestoreGaps } from '../client/restorer';
import { linesAbove, restoreGapLines } from '../client/restore-gap-lines';
import { OVERWRITE_POLICIES, type OverwritePolicy } from '../client/overwrite-policy';
import type { BackupSummary } from '../proto/cpsbackup';
import { BackupError, ConfigError, errorMessage } from '../common/errors';
import { shown } from '../common/config/display';
import { EXIT, exitCodeOf } from './exit-codes';
import { exitWith } from './exit-with';
import { isEnvironmentError } from './environment-error';
import { misplacedOption, type ModeName } from './option-modes';
import { printableJson } from './printable-json';
import { readPackageVersion } from '../common/package-version';
import { silenceIpServerNameWarning } from './ip-servername-warning';
import { incompleteBackupWarning } from '../client/incomplete-backup';
import { parseLoadInto, type LoadInto } from '../client/sources/load-into';
import { keepHeapHeadroom } from '../common/heap-headroom';
import { CliProcess, type CliMode } from './cli-process';
import { includePath } from './include-path';
import { rawArguments } from './raw-arguments';
import { pathArgument } from './path-argument';
import { refuseRepeatedOptions } from './repeated-options';
import { backupIdArgument } from './backup-id-argument';

const DEFAULT_CONFIG = '/etc/cpsbackup/node.conf';
const USAGE = 'usage: cpsbackup [-c node.conf] (-e [--partial] | -l | -s ID | -i [ID] [--to DIR] | -d ID | --protect ID | --unprotect ID | --diff A B | --find PATTERN | daemon) [options]; see cpsbackup -h';

/**
 * Whatever goes wrong while reading the configuration is a configuration error: one line naming
 * the file, exit 2, never a stack (a parser's unexpected throw included).
 */
async function loadConfig(configFile: string): Promise<NodeConfig> {
  const { loadNodeConfig } = await import('../common/config/node-config');
  try {
    return loadNodeConfig(configFile);
  } catch (error) {
    if (error instanceof BackupError) throw error;
    throw new ConfigError(configFile, undefined, `cannot be loaded: ${errorMessage(error)}`);
  }
}

interface Options {
  config: string;
  export?: boolean;
  list?: boolean;
  show?: number;
  import?: number | true;
  delete?: number;
  protect?: number;
  unprotect?: number;
  to?: string;
  json?: boolean;
  client?: string;
  force?: boolean;
  /** undefined: load only when restoring to the original place (no --to). */
  load?: boolean;
  overwrite?: OverwritePolicy;
  regex?: string;
  include?: Buffer[];
  strip?: number;
  partial?: boolean;
  daemon?: boolean;
  ifNew?: boolean;
  loadInto?: string[];
  diff?: number[];
  find?: string;
}

interface Output {
  out(text: string): void;
  err(text: string): void;
  readonly isInteractive: boolean;
  /** For long outputs (--diff, --find): resolves when stdout can take more. */
  drained?(): Promise<void>;
}

function stdoutDrained(): Promise<void> {
  return process.stdout.writableNeedDrain ? new Promise((resolve) => process.stdout.once('drain', () => resolve())) : Promise.resolve();
}

function stripCount(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('give a number of path components, e.g. 2.');
  return Number(value);
}

function storageOf(config: NodeConfig): StorageConfig | undefined {
  return config.storageConfig === undefined ? undefined : loadStorageConfig(config.storageConfig);
}

function loadIntoOf(config: NodeConfig, options: Options, storage: StorageConfig | undefined): LoadInto | undefined {
  if (options.loadInto === undefined) return undefined;
  if (storage === undefined) throw new ConfigError(config.file, undefined, '--load-into needs storage_conf = (the database sources to load)');
  return parseLoadInto(options.loadInto, storage);
}

/**
 * What a post script is told a failed run exits with: a run stopped by Ctrl-C, SIGTERM or SIGHUP ends as main()
 * ends it (130, 143, 129), not as the failure the stop caused; any other failure is 1, as before.
 */
function failureExitCode(control: CliProcess): number {
  return control.signal.aborted ? control.interruptedExitCode() : EXIT.failure;
}

/** backup_script_pre before, backup_script_post after (told the outcome, failures included). */
async function doExportWithScripts(config: NodeConfig, options: Options, output: Output, control: CliProcess): Promise<number> {
  const { backupPre, backupPost } = config.scripts;
  const { withScripts } = await import('../client/hooks/with-scripts');
  const { withBackupLock } = await import('../client/backup-lock');
  // Loaded before the pre script (a database freeze, a snapshot) runs: a broken install fails here,
  // with nothing started, rather than after it; doExport then finds them loaded.
  const [, { BackupKind }] = await Promise.all([import('../client/uploader'), import('../proto/cpsbackup'), import('./progress-line'), import('./format')]);
  const { withFailureReport } = await import('../client/failure-report');
  const attempt = { kind: options.partial ? BackupKind.BACKUP_KIND_PARTIAL : BackupKind.BACKUP_KIND_COMPLETE, isScheduled: false, signal: control.signal };
  // Before the pre script: a second backup on this node (the daemon's running one) must start nothing. That
  // refusal is not reported to the server as a failed attempt: the backup holding the lock reports its own outcome.
  const result = await withBackupLock(config, () => withFailureReport(config, attempt, (note) => output.err(`warning: ${note}\n`), () => withScripts(
    { action: 'backup', configFile: config.file, pre: backupPre, post: backupPost, failureExitCode: () => failureExitCode(control) },
    () => doExport(config, options, output, control), (problem) => output.err(`error: ${problem}\n`))), (warning) => output.err(`warning: ${warning}\n`));
  return result.exitCode;
}

async function doExport(config: NodeConfig, options: Options, output: Output, control: CliProcess): Promise<{ backupId: number; exitCode: number }> {
  const { runBackup } = await import('../client/uploader');
  const { BackupKind } = await import('../proto/cpsbackup');
  const { ProgressLine } = await import('./progress-line');
  const { formatBackupId, formatBytes } = await import('./format');
  const storage = storageOf(config);
  const partialSince = options.partial ? await partialSinceFromServer(config) : undefined;
  if (partialSince) output.err(`partial backup: dumping changes since ${partialSince.toISOString()}\n`);
  const progressLine = new ProgressLine(output.isInteractive, (text) => output.err(text));
  const result = await runBackup(config, {
    kind: options.partial ? BackupKind.BACKUP_KIND_PARTIAL : BackupKind.BACKUP_KIND_COMPLETE,
    storage,
    partialSince,
    signal: control.signal,
    onCommit: () => control.commitSent(),
    onProgress: (progress) => progressLine.update(`${progress.files} files, ${formatBytes(progress.bytesRead)} read`, progress.bytesRead),
  }).finally(() => progressLine.clear());
  const { summary, progress, durationMs } = result;
  for (const warning of progress.warnings) output.err(`warning: ${warning}\n`);
  const unreadable = progress.unreadable;
  if (unreadable.length > 0) {
    output.err(`error: ${unreadable.length} file${unreadable.length === 1 ? '' : 's'} could not be read and ${unreadable.length === 1 ? 'is' : 'are'} not in this backup:\n`);
    for (const item of unreadable) output.err(`  ${item.path}: ${item.reason}\n`);
  }
  const changed = progress.changedWhileRead.length;
  output.out(`Backup ${formatBackupId(summary.backupId)} ${unreadable.length > 0 ? 'kept, incomplete' : 'done'}: ${summary.files} files `
    + `(${progress.unchangedFiles} unchanged${changed > 0 ? `, ${changed} changed while being read` : ''}), `
    + `stored ${formatBytes(summary.newBytes)} new of ${formatBytes(progress.bytesRead)} read (${formatBytes(summary.storedBytes)} after compression, `
    + `sent ${formatBytes(progress.sentBytes)}); `
    + `${formatBytes(summary.logicalBytes)} in this backup, ${(durationMs / 1000).toFixed(1)} s\n`);
  return { backupId: summary.backupId, exitCode: unreadable.length > 0 ? EXIT.partial : EXIT.ok };
}

/** Changes since the newest committed backup of this client (any kind), with an overlap. */
async function partialSinceFromServer(config: NodeConfig): Promise<Date> {
  const { connectToServer } = await import('../client/connection');
  const { listBackups } = await import('../client/catalog-calls');
  const { partialSinceOf } = await import('../client/partial-since');
  const client = connectToServer(config);
  try {
    return partialSinceOf(await listBackups(client, `${config.server}:${config.port}`));
  } finally {
    client.close();
  }
}

/** This node's client name quoted, the CN of its certificate (what the server knows it by); "this node" if it cannot be read. */
async function ownClientName(config: NodeConfig): Promise<string> {
  try {
    const { X509Certificate } = await import('node:crypto');
    const { readFile } = await import('node:fs/promises');
    const subject = new X509Certificate(await readFile(config.sslCert)).subject;
    const name = subject.split('\n').find((part) => part.startsWith('CN='))?.slice('CN='.length);
    return name === undefined ? 'this node' : `"${name}"`;
  } catch {
    return 'this node';
  }
}

async function doList(config: NodeConfig, options: Options, output: Output): Promise<number> {
  const { connectToServer } = await import('../client/connection');
  const { listBackups } = await import('../client/catalog-calls');
  const { backupJson, formatBackupLine } = await import('./format');
  const client = connectToServer(config);
  try {
    const backups = await listBackups(client, `${config.server}:${config.port}`, options.client);
    if (options.json) output.out(`${printableJson(backups.map(backupJson), 2)}\n`);
    else for (const backup of backups) output.out(`${formatBackupLine(backup)}\n`);
    // On stderr: a script reading the list still reads nothing, a person is not left wondering.
    if (!options.json && backups.length === 0) output.err(`no backups of client ${options.client !== undefined ? `"${options.client}"` : await ownClientName(config)} yet\n`);
    return EXIT.ok;
  } finally {
    client.close();
  }
}

/** Why --to cannot be a restore target (it exists and is no folder, or a file is on its way), or undefined. */
function notAFolderReason(target: string): string | undefined {
  try {
    return statSync(target).isDirectory() ? undefined : 'exists and is not a folder';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOTDIR' ? 'a file on its way is not a folder' : undefined;
  }
}

async function doShow(config: NodeConfig, options: Options, output: Output): Promise<number> {
  const { connectToServer } = await import('../client/connection');
  const { showBackup } = await import('../client/catalog-calls');
  const { backupJson, entryJson, formatBackupLine, formatBytes, formatEntryLine, formatLabels, warningLines } = await import('./format');
  const client = connectToServer(config);
  try {
    const entries: Record<string, unknown>[] = [];
    let summary: BackupSummary | undefined;
    await showBackup(client, `${config.server}:${config.port}`, options.show!, options.client ?? '', (backup) => {
      summary = backup;
      if (options.json) return;
      const labels = formatLabels(backup.labels);
      output.out(`${formatBackupLine(backup)}: ${backup.files} files, ${formatBytes(backup.logicalBytes)}${labels ? `; ${labels}` : ''}\n`);
      for (const line of warningLines(backup)) output.out(`warning: ${line}\n`);
    }, (entry) => {
      if (options.json) entries.push(entryJson(entry));
      else output.out(`${formatEntryLine(entry)}\n`);
    });
    if (options.json) output.out(`${printableJson({ backup: summary && backupJson(summary), entries }, 2)}\n`);
    return EXIT.ok;
  } finally {
    client.close();
  }
}

/** Prints what a restore could not do as it is in the backup; returns how many such problems. */
function reportRestoreGaps(result: RestoreGaps, output: Output): number {
  const lines = restoreGapLines(result);
  for (const line of lines) output.err(`${line}\n`);
  return lines.length;
}

/**
 * A backup kept incomplete (files unreadable when it was made, or taken out by check --repair)
 * restores all it holds, but not all that was there: exit 0 would claim otherwise. Returns 1 or 0.
 */
function reportIncompleteBackup(backup: BackupSummary, output: Output): number {
  const warning = incompleteBackupWarning(backup);
  if (warning === undefined) return 0;
  output.err(`warning: ${warning}\n`);
  return 1;
}

/**
 * A dump file restored in place and not loaded sits where its source's FIFO goes: every backup refuses
 * to start while it is there (it may be the copy someone still means to load), so a daemon's nightly
 * backups fail until it is dealt with. Said here, where the operator is, naming each file.
 */
function reportDumpsInTheWay(paths: readonly string[], output: Output): void {
  for (const path of paths) {
    output.err(`warning: ${path}: backups refuse to start while this dump file is there (its source's FIFO goes there): move it away once it is no longer needed, or restore again with its load\n`);
  }
}

/**
 * restore_script_post after the restore (told the outcome and the backup, failures included). The first
 * Ctrl-C stops the restore at its next entry (its gaps listed) or the running loader or script, and the
 * run ends as interrupted, not as whatever failure that stop caused.
 */
async function doImportWithScripts(config: NodeConfig, options: Options, output: Output, control: CliProcess): Promise<number> {
  const { withScripts } = await import('../client/hooks/with-scripts');
  const { withRestoreLock } = await import('../client/backup-lock');
  // In place or loading, the restore replaces what a backup reads (its files, its databases, its dump FIFOs): the two
  // never run side by side. Before the restore and its script: refused, it has written and run nothing.
  const isTouchingLiveData = options.to === undefined || shouldLoadDumps(options);
  const withLock = <T>(run: () => Promise<T>): Promise<T> => (isTouchingLiveData
    ? withRestoreLock(config, 'restore', run, (warning) => output.err(`warning: ${warning}\n`)) : run());
  const result = await withLock(() => withScripts({
    action: 'restore', configFile: config.file, post: config.scripts.restorePost, environment: { CPSBACKUP_RESTORE_TO: options.to ?? '/' },
    failureExitCode: () => failureExitCode(control),
  }, () => doImport(config, options, output, control.signal), (problem) => output.err(`error: ${problem}\n`)));
  // A post script stopped by the first Ctrl-C fails: that is the interruption, for main() to say.
  control.signal.throwIfAborted();
  return result.exitCode;
}

/**
 * Whether -i loads the dumps it restores. A restore --to a folder never touches live databases unless --load (or
 * --load-into) asks for it; nor does one of another client's backups (--client), in place or not: it loaded that
 * node's dumps into this node's live databases, unasked, past receive_ignore, whenever both nodes share a
 * work_directory path (as the shipped node.conf has them). In place, this node's own backups load, as README says.
 */
function shouldLoadDumps(options: Options): boolean {
  const isOtherClient = options.client !== undefined && options.client !== '';
  return options.load ?? ((options.to === undefined && !isOtherClient) || options.loadInto !== undefined);
}

async function doImport(config: NodeConfig, options: Options, output: Output, signal: AbortSignal): Promise<{ backupId: number; exitCode: number }> {
  const shouldLoad = shouldLoadDumps(options);
  const { ProgressLine } = await import('./progress-line');
  const { formatBackupId, formatBytes } = await import('./format');
  const storage = shouldLoad ? storageOf(config) : undefined;
  const backupId = options.import === true || options.import === undefined ? 0 : options.import;
  const progressLine = new ProgressLine(output.isInteractive, (text) => output.err(text));
  const where = options.to ? ` into ${options.to}` : ' to the original paths';
  const selection = { paths: options.include, pathRegex: options.regex, strip: options.strip, overwrite: options.overwrite };
  if (storage === undefined) {
    const { runRestore } = await import('../client/restorer');
    const result = await runRestore(config, {
      backupId, to: options.to, clientName: options.client, ...selection, signal,
      onProgress: (progress) => progressLine.update(`${progress.files} files written, ${formatBytes(progress.bytes)} received`, progress.bytes),
      onStopped: (gaps) => {
        progressLine.clear();
        reportRestoreGaps(gaps, output);
      },
    }).finally(() => progressLine.clear());
    const gaps = reportRestoreGaps(result, output);
    const isIncomplete = reportIncompleteBackup(result.backup, output) > 0;
    // Loading was asked for (in place, or --load) but nothing says where: the databases were not reloaded, so not exit 0.
    const isLoadLeftUndone = shouldLoad && result.dumpFiles.length > 0;
    if (isLoadLeftUndone) {
      output.err(`error: ${result.dumpFiles.length} dump files restored, not loaded: ${config.file} names no storage_conf and has no storage.conf `
        + 'beside it (the database sources to load them into); give it one, or restore with --no-load to take the dump files alone\n');
    } else if (result.dumpFiles.length > 0) {
      const why = options.load === false ? '--no-load' : options.to === undefined
        ? `another client's backup (--client ${options.client}): add --load to load them into this node's databases (receive_ignore applies)`
        : 'restored --to a folder: add --load to load them into the databases';
      output.out(`${result.dumpFiles.length} dump files restored, not loaded (${why})\n`);
      reportDumpsInTheWay(result.dumpFiles.filter((file) => file.localPath === file.originalPath).map((file) => file.localPath), output);
    }
    output.out(`Restored backup ${formatBackupId(result.backup.backupId)}: ${result.progress.files} files, ${formatBytes(result.progress.writtenBytes)}`
      + `${where}${gaps > 0 ? `; not all restored as it is in the backup (${linesAbove(gaps)})` : ''}\n`);
    return { backupId: result.backup.backupId, exitCode: gaps > 0 || isIncomplete || isLoadLeftUndone ? EXIT.partial : EXIT.ok };
  }
  // A partial backup is applied on top of the last complete one and the partials between them.
  const { isPartial, restoreChainAndLoad } = await import('../client/partial-chain');
  const { lostDumpReason } = await import('../client/lost-dumps');
  let failures = 0;
  let lastRestored = 0;
  const chain = await restoreChainAndLoad(config, {
    backupId, to: options.to, clientName: options.client, storage, ...selection, loadInto: loadIntoOf(config, options, storage), signal,
    // Another client's dumps are loaded here only as a receive loads them: not those node.conf leaves out.
    ...(options.client === undefined || options.client === '' ? {} : { ignoredSources: config.receiveIgnore }),
    onProgress: (backup, progress) => progressLine.update(
      `backup ${formatBackupId(backup.backupId)}: ${progress.files} files written, ${formatBytes(progress.bytes)} received`, progress.bytes),
    onStopped: (_backup, gaps) => {
      progressLine.clear();
      reportRestoreGaps(gaps, output);
    },
    onStep: ({ backup, isDumpsOnly, restore, loads, isNotLoaded }) => {
      progressLine.clear();
      lastRestored = backup.backupId;
      failures += reportRestoreGaps(restore, output) - restore.failures.length + reportIncompleteBackup(backup, output);
      for (const load of loads) {
        if (load.ok && load.notApplied !== undefined) output.err(`warning: load of ${load.sourceName}: ${load.path} ${load.notApplied}\n`);
        else if (load.ok) output.out(`loaded ${load.sourceName} from ${load.path}${isPartial(backup) ? ' (partial)' : ''}\n`);
        else output.err(`error: load of ${load.sourceName} failed, ${load.path} kept: ${load.error}\n`);
      }
      // Loaded, exit 0: what the user must still know (a partition kept here as a table of its own).
      for (const load of loads) for (const warning of load.warnings ?? []) output.err(`warning: load of ${load.sourceName}: ${warning}\n`);
      if (options.to === undefined) reportDumpsInTheWay(loads.filter((load) => !load.ok).map((load) => load.path), output);
      failures += restore.failures.length + loads.filter((load) => !load.ok).length;
      const kind = isPartial(backup) ? 'partial ' : '';
      output.out(`Restored ${kind}backup ${formatBackupId(backup.backupId)}${isDumpsOnly ? ' (dumps only)' : ''}: `
        + `${restore.progress.files} files, ${formatBytes(restore.progress.writtenBytes)}${where}`
        + `${restore.failures.length ? `, ${restore.failures.length} errors` : ''}\n`);
      if (isNotLoaded) output.err(`error: no dump of backup ${formatBackupId(backup.backupId)} loaded: its restore reported the errors above\n`);
    },
  }).finally(() => progressLine.clear());
  if (chain.skipped.length > 0) {
    output.err(`error: not applied after the failure above: backups ${chain.skipped.map((backup) => formatBackupId(backup.backupId)).join(', ')}\n`);
  }
  // A failed load names itself as it fails; a dump that did not restore is named here even with no later dump of its source.
  // Only when no later step stopped the chain: then no source was brought to the backup asked for.
  const others = chain.skipped.length === 0 ? ' (the other sources were brought to the backup asked for)' : '';
  for (const source of chain.stoppedSources.filter((stopped) => stopped.notApplied.length > 0 || stopped.failed !== 'load')) {
    const notLoaded = (source.failed === 'load' ? source.notApplied : [source.failedAt, ...source.notApplied])
      .map((backup) => formatBackupId(backup.backupId)).join(', ');
    const failedAt = formatBackupId(source.failedAt.backupId);
    const why = source.failed === 'load' ? `its load from backup ${failedAt} failed`
      : source.failed === 'restore' ? `its dump of backup ${failedAt} did not restore`
        : `backup ${failedAt} says it dumped ${source.sourceName}, but ${lostDumpReason(source.failedAt)}`;
    output.err(`error: ${source.sourceName} not loaded from backups ${notLoaded}: ${why}${others}\n`);
  }
  // A lost link fails no restore: it is a load not done all the same.
  const isLinkLost = chain.stoppedSources.some((stopped) => stopped.failed === 'lost');
  return { backupId: lastRestored, exitCode: failures > 0 || chain.skipped.length > 0 || isLinkLost ? EXIT.partial : EXIT.ok };
}

async function doDelete(config: NodeConfig, options: Options, output: Output): Promise<number> {
  const { connectToServer } = await import('../client/connection');
  const { deleteBackup } = await import('../client/catalog-calls');
  const { formatBackupId, formatBytes } = await import('./format');
  const client = connectToServer(config);
  try {
    const deletion = await deleteBackup(client, `${config.server}:${config.port}`, options.delete!, options.force === true, options.client);
    // Every backup deleted is named: --force on a backup partials stand on deletes them too (the newest among them).
    const others = deletion.deletedBackupIds.filter((backupId) => backupId !== options.delete);
    const alsoDeleted = others.length === 0 ? ''
      : ` and the partial backup${others.length > 1 ? 's' : ''} standing on it, ${others.map((backupId) => formatBackupId(backupId)).join(', ')}`;
    // A server from before deleted_backup_ids names none, not even the one asked for; with --force it deleted the
    // partial backups standing on it too, unnamed (red team redupgrade).
    const unnamed = deletion.deletedBackupIds.length === 0 && options.force === true
      ? '; the backup server runs an older cpsbackup, which does not say which other backups it deleted: partial backups standing on this one may have gone too (see -l)'
      : '';
    // What the server frees is not said: it depends on other clients' data, which a client must not learn.
    output.out(`Deleted backup ${formatBackupId(options.delete!)}${alsoDeleted}; ${formatBytes(deletion.unreferencedBytes)} of this client's data `
      + `(uncompressed) no longer referenced${unnamed}\n`);
    return EXIT.ok;
  } finally {
    client.close();
  }
}

async function doProtect(config: NodeConfig, backupId: number, isProtected: boolean, output: Output): Promise<number> {
  const { connectToServer } = await import('../client/connection');
  const { protectBackup } = await import('../client/catalog-calls');
  const { formatBackupLine } = await import('./format');
  const client = connectToServer(config);
  try {
    const backup = await protectBackup(client, `${config.server}:${config.port}`, backupId, isProtected);
    output.out(`${formatBackupLine(backup)}\n`);
    return EXIT.ok;
  } finally {
    client.close();
  }
}

/** A refused certificate told from a server that is down; the module loads grpc, so only once a command failed. */
async function explainFailure(error: unknown, config: NodeConfig): Promise<unknown> {
  let explain: typeof import('../client/certificate-refusal').explainConnectionFailure;
  try {
    ({ explainConnectionFailure: explain } = await import('../client/certificate-refusal'));
  } catch {
    return error; // a module that will not load must not hide the failure being reported
  }
  return explain(error, config);
}

/**
 * rawArgs: the arguments as the shell passed them (raw-arguments.ts), for --include names that are not
 * UTF-8 and for local paths that are not (refused); read only when such a value is given, not at every start.
 */
export function buildProgram(rawArgs: () => readonly Buffer[] | undefined): Command {
  const program = new Command('cpsbackup')
    .description('cpsbackup client: back up this node to the backup server, list, show, restore and delete backups')
    .option('-c, --config <file>', 'node configuration', pathArgument(rawArgs), DEFAULT_CONFIG)
    .option('-e, --export', 'back up now')
    .option('-l, --list', 'list this client\'s backups, oldest first')
    .option('-s, --show <id>', 'list the files of a backup', backupIdArgument)
    .addOption(new Option('-i, --import [id]', 'restore the newest or the given backup').argParser(backupIdArgument))
    .option('-d, --delete <id>', 'delete a backup (refused for a protected one)', backupIdArgument)
    .option('--protect <id>', 'protect a backup: retention and -d skip it until --unprotect (needs client_can_list)', backupIdArgument)
    .option('--unprotect <id>', 'take the protection off; the next retention may delete it (needs client_can_delete)', backupIdArgument)
    .option('--to <dir>', 'with -i: restore under this folder instead of the original paths (dumps are then not loaded unless --load)', pathArgument(rawArgs))
    .option('--diff <ids...>', 'compare two backups A B: entries added, removed and changed (with sizes and what changed), in path order', (value: string, previous: number[] = []) => [...previous, backupIdArgument(value)])
    .option('--find <pattern>', 'which backups hold a path matching this glob (on the escaped path: * ? [..] within a name, ** across folders; '
      + 'without "/" it matches the last name), with size and mtime')
    .option('--json', 'with -l, -s, --diff, --find: print JSON (names escaped, and their bytes in base64)')
    .option('--client <name>', 'with -l, -s, -i, --diff, --find: another client\'s backups (needs restore_client on the server)')
    .option('--force', 'with -d: allow deleting the newest backup')
    .option('--load', 'with -i --to or -i --client: also load the restored dumps into the databases (the default only for this node\'s own backups '
      + 'restored to the original paths; another client\'s leave out the sources in receive_ignore)')
    .option('--no-load', 'with -i: restore dump files without running their loaders')
    .addOption(new Option('--overwrite [policy]', 'with -i: replace existing entries that differ from the backup: always (the default with no value), if-newer, never (the default without the option)')
      .choices(OVERWRITE_POLICIES).preset('always'))
    .option('--include <path>', 'with -i: restore only this path and what lies below it (absolute, spelled as -s lists it: '
      + '"\\\\" for a backslash, "\\xNN" for a byte; repeatable)',
    (value: string, previous: Buffer[] = []) => [...previous, includePath(value, rawArgs())])
    .option('-r, --regex <pattern>', 'with -i: restore only paths matching this regular expression (and the folders above them)')
    .option('--strip <n>', 'with -i --to: drop the first n components of every path', stripCount)
    .option('--load-into <[source=]database>', 'with -i: restore only the postgresql/mariadb dumps and load them into this database (repeatable)',
      (value: string, previous: string[] = []) => [...previous, value])
    .option('--partial', 'with -e: a partial backup (dump sources with since_field dump only recent changes)')
    .option('--if-new', 'with -i: load only backups newer than the last one applied here (state in state_directory), and with receive_files = 1 restore its files under receive_to (--overwrite applies), then postprocess; exit 3 while the newest backup applied is incomplete')
    .option('--daemon', 'run the jobs scheduled in node.conf until SIGTERM or SIGINT, which stop it after the running job; SIGHUP is ignored (also: cpsbackup daemon -c node.conf)')
    .argument('[mode]', '"daemon": the same as --daemon')
    .allowExcessArguments(false)
    .version(readPackageVersion())
    .exitOverride()
    .configureOutput({ outputError: () => undefined })
    .addHelpText('after', `
Examples:
  cpsbackup -c /etc/cpsbackup/node.conf -e          back up now
  cpsbackup -c node.conf -l                        Backup: 0000003 2026-11-23 14:30:25 (deletable) ...
  cpsbackup -c node.conf -s 3 --json               the files of backup 3 as JSON
  cpsbackup -c node.conf -i                        restore the newest backup to the original paths, then load dumps
  cpsbackup -c node.conf -i 3 --to /tmp/r          restore backup 3 under /tmp/r
  cpsbackup -c node.conf -i --load-into shop_test  load the newest postgresql/mariadb dumps into database shop_test
  cpsbackup -c node.conf -d 2                      delete backup 2
  cpsbackup -c node.conf --protect 3               keep backup 3 whatever retention says (--unprotect 3 undoes it)
  cpsbackup -c node.conf --diff 3 5                what changed from backup 3 to backup 5 (+ added, - removed, M changed)
  cpsbackup -c node.conf --find '*.conf'           every backup's entries named *.conf; '/etc/**' for everything under /etc
  cpsbackup daemon -c node.conf                    run schedule_complete / schedule_partial / schedule_receive
  cpsbackup -c receiver.conf -i --client prod --if-new   load prod's newest backups into this node's databases once

Rights: the server's record of this client may withhold client_can_delete, client_can_list, client_can_restore or
client_can_force_backup (-e outside the daemon's schedule); a refused call names the right and exits 12.

Scripts (node.conf, burp's keys): backup_script_pre runs before -e (non-zero: the backup fails, nothing is
sent); backup_script_post after every -e and restore_script_post after every -i (a receiver's --if-new runs
node.conf's postprocess instead), failures included, with
"post <0|1 failed> <backup id>" and CPSBACKUP_OUTCOME, CPSBACKUP_BACKUP_ID, CPSBACKUP_ERROR; *_arg lines add arguments.

Exit codes: 0 ok, 1 failure, 2 usage or configuration error, 3 partly failed (some files or loads, a failed post script), 12 refused by the server
(a right, or this client's certificate: revoked, expired, from another CA or without a client record on the server; a server that is down is exit 1, "cannot reach"),
130, 143, 129 interrupted by Ctrl-C, SIGTERM, SIGHUP (a backup or restore stops at its next entry and runs its post script; a second signal stops it at once).`);
  // Repeatable, every value kept: --include, --load-into, and --diff's two ids (one option or two).
  return refuseRepeatedOptions(program, new Set(['include', 'loadInto', 'diff']));
}

export async function main(argv: string[], output: Output = {
  out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text), isInteractive: process.stderr.isTTY === true,
  drained: stdoutDrained,
}, control: CliProcess = new CliProcess(), rawArgs: () => readonly Buffer[] | undefined = () => undefined): Promise<number> {
  const program = buildProgram(rawArgs);
  // For telling a refused certificate from a server that is down, once the error is caught.
  let loadedConfig: NodeConfig | undefined;
  try {
    program.parse(argv);
    const options = program.opts<Options>();
    if (program.args.length > 0 && program.args[0] !== 'daemon') {
      output.err(`cpsbackup: unknown mode "${shown(program.args[0])}" (the only mode is daemon)\n${USAGE}\n`);
      return EXIT.usage;
    }
    const isDaemon = options.daemon === true || program.args[0] === 'daemon';
    const modes: [unknown, CliMode, ModeName][] = [[options.export, 'backup', 'export'], [options.list, 'listing', 'list'], [options.show, 'listing', 'show'],
      [options.import, 'restore', 'import'], [options.delete, 'change', 'delete'], [options.protect, 'change', 'protect'], [options.unprotect, 'change', 'unprotect'],
      [options.diff, 'listing', 'diff'], [options.find, 'listing', 'find'], [isDaemon || undefined, 'daemon', 'daemon']];
    const actions = modes.filter(([value]) => value !== undefined);
    if (actions.length !== 1) {
      output.err(`cpsbackup: choose exactly one of -e, -l, -s, -i, -d, --protect, --unprotect, --diff, --find, daemon\n${USAGE}\n`);
      return EXIT.usage;
    }
    const misplaced = misplacedOption(options as unknown as Record<string, unknown>, actions[0][2]);
    if (misplaced !== undefined) {
      output.err(`cpsbackup: ${misplaced}\n${USAGE}\n`);
      return EXIT.usage;
    }
    if (options.diff !== undefined && options.diff.length !== 2) {
      output.err(`cpsbackup: --diff takes two backup ids, the older first (e.g. --diff 3 5)\n${USAGE}\n`);
      return EXIT.usage;
    }
    const hasSelection = options.include !== undefined || options.regex !== undefined || options.strip !== undefined;
    if (options.ifNew && (options.import !== true || options.to !== undefined || options.load === false || options.load === true || hasSelection)) {
      output.err('cpsbackup: --if-new goes with -i alone (no id, --to, --load, --no-load, --include, -r or --strip): it loads every backup not applied yet\n');
      return EXIT.usage;
    }
    if ((options.strip ?? 0) > 0 && options.to === undefined) {
      output.err(`cpsbackup: --strip needs --to: stripped paths have no original place\n${USAGE}\n`);
      return EXIT.usage;
    }
    // A usage error like the others (exit 2), said before the server is asked or a script runs: it was exit 1, the restore's own refusal.
    const notAFolder = options.to === undefined ? undefined : notAFolderReason(options.to);
    if (notAFolder !== undefined) {
      output.err(`cpsbackup: --to ${shown(options.to!, 240)}: ${notAFolder}; --to names the folder to restore under (made when missing)\n${USAGE}\n`);
      return EXIT.usage;
    }
    if (options.loadInto !== undefined && (options.import === undefined || options.load === false)) {
      output.err(`cpsbackup: --load-into goes with -i (and not with --no-load)\n`);
      return EXIT.usage;
    }
    // The daemon's mode is set once its own handlers are about to take over (daemonMain installs them first thing).
    if (!isDaemon) control.setMode(actions[0][1]);
    const config = await loadConfig(options.config);
    loadedConfig = config;
    // Once per run (once per daemon start): a certificate peers will refuse; for backups, an include that does not exist.
    const isBackup = options.export === true || isDaemon;
    const { includeWarnings } = await import('../common/config/node-config');
    for (const warning of [...config.warnings, ...(isBackup ? includeWarnings(config) : [])]) output.err(`cpsbackup: warning: ${warning}\n`);
    if (isDaemon) {
      const { daemonMain } = await import('../client/daemon/daemon-command');
      control.setMode('daemon');
      return await daemonMain(config, () => storageOf(config));
    }
    if (options.ifNew) {
      const { receiveIfNew } = await import('../client/receiver/receive-command');
      const storage = storageOf(config);
      // The client the daemon's scheduled receive follows, unless --client names another: without it a
      // receiver said "nothing new" of its own backups while production had new ones.
      return await receiveIfNew(config, options.client ?? config.receiveClient, storage, output, loadIntoOf(config, options, storage), options.overwrite,
        control.signal);
    }
    if (options.export) return await doExportWithScripts(config, options, output, control);
    if (options.list) return await doList(config, options, output);
    if (options.show !== undefined) return await doShow(config, options, output);
    if (options.import !== undefined) return await doImportWithScripts(config, options, output, control);
    if (options.diff !== undefined) {
      const { doDiff } = await import('./browse-commands');
      await doDiff(config, options.diff[0], options.diff[1], options.client, options.json === true, output);
      return EXIT.ok;
    }
    if (options.find !== undefined) {
      const { doFind } = await import('./browse-commands');
      await doFind(config, options.find, options.client, options.json === true, output);
      return EXIT.ok;
    }
    if (options.protect !== undefined) return await doProtect(config, options.protect, true, output);
    if (options.unprotect !== undefined) return await doProtect(config, options.unprotect, false, output);
    return await doDelete(config, options, output);
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return EXIT.ok;
      output.err(`cpsbackup: ${shown(error.message.replace(/^error: /, ''), 300)}\n${USAGE}\n`);
      return EXIT.usage;
    }
    if (control.signal.aborted) {
      output.err(`${control.interruptedMessage()}\n`);
      return control.interruptedExitCode();
    }
    const explained = loadedConfig === undefined ? error : await explainFailure(error, loadedConfig);
    output.err(`cpsbackup: ${errorMessage(explained)}\n`);
    if (!(explained instanceof BackupError) && !isEnvironmentError(explained)) output.err(`${(explained as Error)?.stack ?? ''}\n`);
    // Only where the answer was lost (the connection dropped, the server silent): a refusal is an answer.
    const note = control.failureNote();
    if (note !== undefined && explained instanceof (await import('../client/remote-error')).ServerUnreachableError) output.err(`cpsbackup: ${note}\n`);
    return exitCodeOf(explained);
  }
}

if (require.main === module) {
  keepHeapHeadroom();
  silenceIpServerNameWarning();
  const control = new CliProcess();
  control.install();
  exitWith(main(process.argv, undefined, control, () => rawArguments()), 'cpsbackup');
}
