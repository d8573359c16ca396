#!/usr/bin/env node
// cpsbackup: the node's command — back up (-e), list (-l), show (-s), restore (-i), delete (-d).
// One clear line per error on stderr; exit codes from exit-codes.ts.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { includeWarnings, loadNodeConfig, type NodeConfig } from '../common/config/node-config';
import { loadStorageConfig, type StorageConfig } from '../client/sources/storage-config';
import { isPartial, partialSinceOf, restoreChainAndLoad } from '../client/partial-chain';
import { runBackup } from '../client/uploader';
import { runRestore } from '../client/restorer';
import { connectToServer } from '../client/connection';
import { deleteBackup, listBackups, showBackup } from '../client/catalog-calls';
import { BackupKind, type BackupSummary } from '../proto/cpsbackup';
import { BackupError, ConfigError, errorMessage } from '../common/errors';
import { shown } from '../common/config/display';
import { EXIT, exitCodeOf } from './exit-codes';
import { readPackageVersion } from '../common/package-version';
import { backupJson, entryJson, formatBackupId, formatBackupLine, formatBytes, formatEntryLine } from './format';
import { ProgressLine } from './progress-line';
import { silenceIpServerNameWarning } from './ip-servername-warning';
import { daemonMain } from '../client/daemon/daemon-command';
import { receiveIfNew } from '../client/receiver/receive-command';

const DEFAULT_CONFIG = '/etc/cpsbackup/node.conf';
const USAGE = 'usage: cpsbackup [-c node.conf] (-e [--partial] | -l | -s ID | -i [ID] [--to DIR] | -d ID | daemon) [options]; see cpsbackup -h';

/**
 * Whatever goes wrong while reading the configuration is a configuration error: one line naming
 * the file, exit 2, never a stack (a parser's unexpected throw included).
 */
function loadConfig(configFile: string): NodeConfig {
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
  to?: string;
  json?: boolean;
  client?: string;
  force?: boolean;
  load: boolean;
  partial?: boolean;
  daemon?: boolean;
  ifNew?: boolean;
}

interface Output {
  out(text: string): void;
  err(text: string): void;
  readonly isInteractive: boolean;
}

function backupNumber(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('a backup id is a positive number, e.g. 3 or 0000003.');
  return Number(value);
}

function storageOf(config: NodeConfig): StorageConfig | undefined {
  return config.storageConfig === undefined ? undefined : loadStorageConfig(config.storageConfig);
}

async function doExport(config: NodeConfig, options: Options, output: Output): Promise<number> {
  const storage = storageOf(config);
  const partialSince = options.partial ? await partialSinceFromServer(config) : undefined;
  if (partialSince) output.err(`partial backup: dumping changes since ${partialSince.toISOString()}\n`);
  const progressLine = new ProgressLine(output.isInteractive, (text) => output.err(text));
  const result = await runBackup(config, {
    kind: options.partial ? BackupKind.BACKUP_KIND_PARTIAL : BackupKind.BACKUP_KIND_COMPLETE,
    storage,
    partialSince,
    onProgress: (progress) => progressLine.update(`${progress.files} files, ${formatBytes(progress.bytesRead)} read`, progress.bytesRead),
  }).finally(() => progressLine.clear());
  const { summary, progress, durationMs } = result;
  for (const warning of progress.warnings) output.err(`warning: ${warning}\n`);
  const dedup = summary.newBytes > 0 ? `${(summary.logicalBytes / summary.newBytes).toFixed(1)}x` : 'all known';
  output.out(`Backup ${formatBackupId(summary.backupId)} done: ${summary.files} files (${progress.unchangedFiles} unchanged), `
    + `${formatBytes(summary.logicalBytes)} in total, ${formatBytes(summary.newBytes)} new (${formatBytes(summary.storedBytes)} stored), `
    + `dedup ${dedup}, ${(durationMs / 1000).toFixed(1)} s\n`);
  return EXIT.ok;
}

/** Changes since the newest committed backup of this client (any kind), with an overlap. */
async function partialSinceFromServer(config: NodeConfig): Promise<Date> {
  const client = connectToServer(config);
  try {
    return partialSinceOf(await listBackups(client, `${config.server}:${config.port}`));
  } finally {
    client.close();
  }
}

async function doList(config: NodeConfig, options: Options, output: Output): Promise<number> {
  const client = connectToServer(config);
  try {
    const backups = await listBackups(client, `${config.server}:${config.port}`, options.client);
    if (options.json) output.out(`${JSON.stringify(backups.map(backupJson), null, 2)}\n`);
    else for (const backup of backups) output.out(`${formatBackupLine(backup)}\n`);
    return EXIT.ok;
  } finally {
    client.close();
  }
}

async function doShow(config: NodeConfig, options: Options, output: Output): Promise<number> {
  const client = connectToServer(config);
  try {
    const entries: Record<string, unknown>[] = [];
    let summary: BackupSummary | undefined;
    await showBackup(client, `${config.server}:${config.port}`, options.show!, options.client ?? '', (backup) => {
      summary = backup;
      if (options.json) return;
      const labels = Object.entries(backup.labels).map(([key, value]) => `${key}=${value}`).join(' ');
      output.out(`${formatBackupLine(backup)}: ${backup.files} files, ${formatBytes(backup.logicalBytes)}${labels ? `; ${labels}` : ''}\n`);
    }, (entry) => {
      if (options.json) entries.push(entryJson(entry));
      else output.out(`${formatEntryLine(entry)}\n`);
    });
    if (options.json) output.out(`${JSON.stringify({ backup: summary && backupJson(summary), entries }, null, 2)}\n`);
    return EXIT.ok;
  } finally {
    client.close();
  }
}

async function doImport(config: NodeConfig, options: Options, output: Output): Promise<number> {
  const storage = options.load ? storageOf(config) : undefined;
  const backupId = options.import === true || options.import === undefined ? 0 : options.import;
  const progressLine = new ProgressLine(output.isInteractive, (text) => output.err(text));
  const where = options.to ? ` into ${options.to}` : ' to the original paths';
  if (storage === undefined) {
    const result = await runRestore(config, {
      backupId, to: options.to, clientName: options.client,
      onProgress: (progress) => progressLine.update(`${progress.files} files, ${formatBytes(progress.bytes)} written`, progress.bytes),
    }).finally(() => progressLine.clear());
    for (const failure of result.failures) output.err(`error: ${failure}\n`);
    if (result.dumpFiles.length > 0) {
      output.out(`${result.dumpFiles.length} dump files restored, not loaded${options.load ? ' (no storage.conf)' : ' (--no-load)'}\n`);
    }
    output.out(`Restored backup ${formatBackupId(result.backup.backupId)}: ${result.progress.files} files, ${formatBytes(result.progress.bytes)}`
      + `${where}${result.failures.length ? `, ${result.failures.length} errors` : ''}\n`);
    return result.failures.length > 0 ? EXIT.partial : EXIT.ok;
  }
  // A partial backup is applied on top of the last complete one and the partials between them.
  let failures = 0;
  const chain = await restoreChainAndLoad(config, {
    backupId, to: options.to, clientName: options.client, storage,
    onProgress: (backup, progress) => progressLine.update(
      `backup ${formatBackupId(backup.backupId)}: ${progress.files} files, ${formatBytes(progress.bytes)} written`, progress.bytes),
    onStep: ({ backup, isDumpsOnly, restore, loads }) => {
      progressLine.clear();
      for (const failure of restore.failures) output.err(`error: ${failure}\n`);
      for (const load of loads) {
        if (load.ok) output.out(`loaded ${load.sourceName} from ${load.path}${isPartial(backup) ? ' (partial)' : ''}\n`);
        else output.err(`error: load of ${load.sourceName} failed, ${load.path} kept: ${load.error}\n`);
      }
      failures += restore.failures.length + loads.filter((load) => !load.ok).length;
      const kind = isPartial(backup) ? 'partial ' : '';
      output.out(`Restored ${kind}backup ${formatBackupId(backup.backupId)}${isDumpsOnly ? ' (dumps only)' : ''}: `
        + `${restore.progress.files} files, ${formatBytes(restore.progress.bytes)}${where}`
        + `${restore.failures.length ? `, ${restore.failures.length} errors` : ''}\n`);
    },
  }).finally(() => progressLine.clear());
  if (chain.skipped.length > 0) {
    output.err(`error: not applied after the failure above: backups ${chain.skipped.map((backup) => formatBackupId(backup.backupId)).join(', ')}\n`);
  }
  return failures > 0 || chain.skipped.length > 0 ? EXIT.partial : EXIT.ok;
}

async function doDelete(config: NodeConfig, options: Options, output: Output): Promise<number> {
  const client = connectToServer(config);
  try {
    const freed = await deleteBackup(client, `${config.server}:${config.port}`, options.delete!, options.force === true, options.client);
    output.out(`Deleted backup ${formatBackupId(options.delete!)}; ${formatBytes(freed)} freed on the server\n`);
    return EXIT.ok;
  } finally {
    client.close();
  }
}

function buildProgram(): Command {
  return new Command('cpsbackup')
    .description('cpsbackup client: back up this node to the backup server, list, show, restore and delete backups')
    .option('-c, --config <file>', 'node configuration', DEFAULT_CONFIG)
    .option('-e, --export', 'back up now')
    .option('-l, --list', 'list this client\'s backups, oldest first')
    .option('-s, --show <id>', 'list the files of a backup', backupNumber)
    .addOption(new Option('-i, --import [id]', 'restore the newest or the given backup').argParser(backupNumber))
    .option('-d, --delete <id>', 'delete a backup', backupNumber)
    .option('--to <dir>', 'with -i: restore under this folder instead of the original paths')
    .option('--json', 'with -l and -s: print JSON')
    .option('--client <name>', 'with -l, -s, -i: another client\'s backups (needs restore_client on the server)')
    .option('--force', 'with -d: allow deleting the newest backup')
    .option('--no-load', 'with -i: restore dump files without running their loaders')
    .option('--partial', 'with -e: a partial backup (dump sources with since_field dump only recent changes)')
    .option('--if-new', 'with -i: load only backups newer than the last one applied here (state in state_directory), then postprocess')
    .option('--daemon', 'run the jobs scheduled in node.conf until SIGTERM (also: cpsbackup daemon -c node.conf)')
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
  cpsbackup -c node.conf -d 2                      delete backup 2
  cpsbackup daemon -c node.conf                    run schedule_complete / schedule_partial / schedule_receive
  cpsbackup -c receiver.conf -i --client prod --if-new   load prod's newest backups into this node's databases once

Exit codes: 0 ok, 1 failure, 2 usage or configuration error, 3 partly failed (some files or loads), 12 refused by the server.`);
}

export async function main(argv: string[], output: Output = {
  out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text), isInteractive: process.stderr.isTTY === true,
}): Promise<number> {
  const program = buildProgram();
  try {
    program.parse(argv);
    const options = program.opts<Options>();
    if (program.args.length > 0 && program.args[0] !== 'daemon') {
      output.err(`cpsbackup: unknown mode "${shown(program.args[0])}" (the only mode is daemon)\n${USAGE}\n`);
      return EXIT.usage;
    }
    const isDaemon = options.daemon === true || program.args[0] === 'daemon';
    const actions = [options.export, options.list, options.show, options.import, options.delete, isDaemon || undefined]
      .filter((value) => value !== undefined);
    if (actions.length !== 1) {
      output.err(`cpsbackup: choose exactly one of -e, -l, -s, -i, -d, daemon\n${USAGE}\n`);
      return EXIT.usage;
    }
    if (options.ifNew && (options.import !== true || options.to !== undefined || !options.load)) {
      output.err(`cpsbackup: --if-new goes with -i alone (no id, --to or --no-load): it loads every backup not applied yet\n`);
      return EXIT.usage;
    }
    const config = loadConfig(options.config);
    // Once per run (once per daemon start): a certificate peers will refuse; for backups, an include that does not exist.
    const isBackup = options.export === true || isDaemon;
    for (const warning of [...config.warnings, ...(isBackup ? includeWarnings(config) : [])]) output.err(`cpsbackup: warning: ${warning}\n`);
    if (isDaemon) return await daemonMain(config, () => storageOf(config));
    if (options.ifNew) return await receiveIfNew(config, options.client, storageOf(config), output);
    if (options.export) return await doExport(config, options, output);
    if (options.list) return await doList(config, options, output);
    if (options.show !== undefined) return await doShow(config, options, output);
    if (options.import !== undefined) return await doImport(config, options, output);
    return await doDelete(config, options, output);
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return EXIT.ok;
      output.err(`cpsbackup: ${shown(error.message.replace(/^error: /, ''), 300)}\n${USAGE}\n`);
      return EXIT.usage;
    }
    output.err(`cpsbackup: ${errorMessage(error)}\n`);
    if (!(error instanceof BackupError)) output.err(`${(error as Error)?.stack ?? ''}\n`);
    return exitCodeOf(error);
  }
}

if (require.main === module) {
  silenceIpServerNameWarning();
  main(process.argv).then((code) => process.exit(code));
}
