#!/usr/bin/env node
// cpsbackup-server: runs the backup server (default), or maintenance on its store (gc, check).
// Errors are one line on stderr; configuration mistakes exit 2.
// Each command imports what it needs when it runs, and the store loads the S3 SDK only for a bucket:
// --help needs neither grpc nor the store. Measured: --help 0.44 s → 0.14 s (bare node 0.11 s);
// a server on a local folder is listening after 0.43 s instead of 0.55 s.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import type { ServerConfig } from '../common/config/server-config';
import type { RunningServer } from '../server/backup-server';
import type { PackBackend } from '../chunkstore/backend/pack-backend';
import type { BlobSeal } from '../chunkstore/json-blob';
import type { StoreKey } from '../chunkstore/crypto/store-key';
import { shown } from '../common/config/display';
import { createLogger } from '../common/logger';
import { BackupError, ConfigError, NotFoundError, errorMessage } from '../common/errors';
import { EXIT, exitCodeOf } from './exit-codes';
import { escapeBytes } from '../common/escape-bytes';
import { exitAfterFlush, exitWith } from './exit-with';
import { isEnvironmentError } from './environment-error';
import { printableJson } from './printable-json';
import { readPackageVersion } from '../common/package-version';
import { keepHeapHeadroom } from '../common/heap-headroom';
import { surviveClosedOutput } from './closed-output';
import { pathArgument } from './path-argument';
import { rawArguments } from './raw-arguments';
import { refuseRepeatedOptions } from './repeated-options';
import { backupIdArgument } from './backup-id-argument';
import { changedSettings } from './server-conf-changes';
import { offlineLogger } from './offline-logger';

const DEFAULT_CONFIG = '/etc/cpsbackup/server.conf';
const USAGE = 'usage: cpsbackup-server [-c server.conf] [gc [--delete-unknown-packs] | check [--read-data | --read-data-subset N%] | status [--url URL] [--json] '
  + '| protect CLIENT ID | unprotect CLIENT ID | retention [--dry-run] [CLIENT] | init-key FILE | recover | accept-catalog | break-lease]';

/**
 * Whatever goes wrong while reading the configuration is a configuration error: one line naming
 * the file, exit 2, never a stack (a parser's unexpected throw included).
 */
async function loadConfig(configFile: string): Promise<ServerConfig> {
  const { loadServerConfig } = await import('../common/config/server-config');
  try {
    return loadServerConfig(configFile);
  } catch (error) {
    if (error instanceof BackupError) throw error;
    throw new ConfigError(configFile, undefined, `cannot be loaded: ${errorMessage(error)}`);
  }
}

async function runServer(configFile: string): Promise<number> {
  const logger = createLogger('cpsbackup-server');
  let server: RunningServer | undefined;
  let startConfig: ServerConfig | undefined;
  // From the start, so a SIGHUP while starting does not kill the process (its default action).
  const onHangup = (): void => {
    if (server === undefined) logger.warn('SIGHUP while starting: ignored (the clients folder and revocation list are being read now)');
    else {
      server.reload();
      // server.conf is not reread: say which of its settings changed on disk and wait for a restart.
      if (startConfig !== undefined) {
        const startedWith = startConfig;
        loadConfig(configFile).then((onDisk) => {
          const changed = changedSettings(startedWith, onDisk);
          if (changed.length > 0) {
            logger.warn(`SIGHUP: ${configFile} changed on disk (${changed.join(', ')}): not applied, server.conf is read at start; `
              + 'restart the server to apply it');
          }
        }, (error: unknown) => logger.warn(`SIGHUP: ${configFile} as it is now on disk would not start the server: ${errorMessage(error)}`));
      }
    }
  };
  process.on('SIGHUP', onHangup);
  try {
    const config = await loadConfig(configFile);
    startConfig = config;
    for (const warning of config.warnings) logger.warn(warning);
    const { startBackupServer } = await import('../server/backup-server');
    server = await startBackupServer(config, logger).catch((error: unknown) => { throw listenErrorOf(config, error); });
    // Before the listening line, so whoever waits for that line has the status URL already.
    process.stdout.write(`cpsbackup-server status on ${server.status.url}\n`);
    process.stdout.write(`cpsbackup-server listening on ${config.address}:${server.port}\n`);
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    });
    const running = server;
    logger.info(`${signal}: stopping after running calls end (at most stop_timeout = ${config.stopTimeoutSeconds} s; another SIGTERM or SIGINT cuts them now)`);
    // Without a handler, a second signal would kill the process with the store open and nothing logged.
    let isCut = false;
    const onSecondSignal = (again: NodeJS.Signals): void => {
      if (isCut) {
        logger.warn(`${again} a third time: exiting now, the store not closed (its next start recovers what was left)`);
        exitAfterFlush(EXIT.failure);
        return;
      }
      isCut = true;
      logger.warn(`${again} again: cutting the running calls now`);
      running.cutRunningCalls();
      // Closing the store may wait on an object store that does not answer (each request retried for minutes: a
      // frozen gateway held a stop 21 minutes): a second signal means now, and the store is built to survive that.
      setTimeout(() => {
        logger.warn(`${again} again: the store has not closed ${SECOND_SIGNAL_GRACE_MS / 1000} s after the calls were cut `
          + '(an object store that does not answer?): exiting without closing it; its next start recovers what was left');
        exitAfterFlush(EXIT.failure);
      }, SECOND_SIGNAL_GRACE_MS).unref();
    };
    process.on('SIGTERM', onSecondSignal);
    process.on('SIGINT', onSecondSignal);
    await running.stop(signal);
    return EXIT.ok;
  } finally {
    process.off('SIGHUP', onHangup);
  }
}

/** How long the store may take to close once a second signal has cut the running calls. */
const SECOND_SIGNAL_GRACE_MS = 10_000;

async function printStatus(configFile: string, options: { url?: string; json?: boolean }): Promise<number> {
  const config = await loadConfig(configFile);
  const { configuredStatusUrl, fetchStatus } = await import('../server/status/status-fetch');
  const { trustedCa } = await import('../common/tls/credentials');
  const { statusText } = await import('../server/status/status-text');
  const url = options.url ?? configuredStatusUrl(config);
  const ca = url.startsWith('https:') ? trustedCa(config) : undefined;
  const report = await fetchStatus(url, { token: config.statusToken, ca });
  process.stdout.write(options.json ? `${printableJson(report, 2)}\n` : statusText(report));
  return EXIT.ok;
}

/**
 * Packs the catalog does not name and no crash of this store left are deleted only with deleteUnknownPacks
 * (--delete-unknown-packs): a cron `gc` on a store whose catalog was put back from a copy deleted the newer
 * catalog's packs, the only copy of its backups. Without it they are kept and named, on stdout too.
 */
async function runGarbageCollection(configFile: string, deleteUnknownPacks: boolean): Promise<number> {
  const config = await loadConfig(configFile);
  const { openConfiguredStore } = await import('../server/open-store');
  const { describeDamagedPacks, describeKeptPacks, describeRepairedCounts } = await import('../chunkstore/store');
  const store = await openConfiguredStore(config, { encoderThreads: 0, deleteUnknownPacks, mustExist: true, logger: offlineLogger('cpsbackup-server') });
  try {
    const { removedOrphanPacks, removedUnknownPacks, keptPacks } = store.recovery;
    if (removedOrphanPacks > 0) process.stdout.write(`gc: deleted ${removedOrphanPacks} packs a crash left between their put and their catalog row\n`);
    if (removedUnknownPacks > 0) process.stdout.write(`gc: deleted ${removedUnknownPacks} packs the catalog does not name (--delete-unknown-packs)\n`);
    if (keptPacks.count > 0) process.stdout.write(`gc: ${describeKeptPacks(keptPacks, store.packBackend.location)}\n`);
    const report = await store.collectGarbage({ allPacks: true });
    for (const line of describeRepairedCounts(report.repairedCounts)) process.stdout.write(`gc: ${line} (run check: what damaged it may have damaged more)\n`);
    process.stdout.write(`gc: deleted ${report.deletedContents} contents, ${report.deletedChunks} chunks, ${report.deletedPacks} packs; rewrote ${report.rewrittenPacks} packs; freed ${report.freedBytes} bytes`
      + `${report.damagedPacks > 0 ? `; ${describeDamagedPacks(report)}` : ''}\n`);
    // Doomed packs leave the bucket only once a snapshot without them is stored, and a fenced store stores none.
    if (store.snapshotFence !== undefined) {
      process.stdout.write('gc: nothing leaves the bucket yet: the packs counted above stay there until `recover` or `accept-catalog` (see the warning above)\n');
      return EXIT.partial;
    }
  } finally {
    await store.close();
  }
  return EXIT.ok;
}

/** Opening takes the store's process lock, so check refuses while a server (or a gc) holds the store. */
async function runCheck(configFile: string, readDataPercent: number, isRepair: boolean): Promise<number> {
  const config = await loadConfig(configFile);
  const { openConfiguredStore } = await import('../server/open-store');
  const { checkReportLines, isClean } = await import('../chunkstore/check');
  const store = await openConfiguredStore(config, { encoderThreads: 0, mustExist: true, logger: offlineLogger('cpsbackup-server') });
  try {
    const recovery = store.recovery;
    if (recovery.droppedBackups + recovery.droppedChunks + recovery.removedOrphanPacks > 0) {
      process.stdout.write(`recovered the store first: dropped ${recovery.droppedBackups} unfinished backups, `
        + `${recovery.droppedChunks} unreadable chunks of unsealed packs, ${recovery.removedOrphanPacks} orphan packs\n`);
    }
    if (recovery.keptOrphanPacks > 0) {
      process.stdout.write(`${recovery.keptOrphanPacks} packs in the bucket are not in the catalog \`recover\` installed: kept until `
        + '`cpsbackup-server gc --delete-unknown-packs` deletes them (they may hold backups the recovered catalog lacks)\n');
    }
    const report = await store.check({ readDataPercent });
    for (const line of checkReportLines(report)) process.stdout.write(`${line}\n`);
    if (!isClean(report) && report.damagedChunks.length > 0 && !isRepair) {
      process.stdout.write('the damaged chunks are marked: the next backup holding the same data stores it again and heals every file using it; '
        + 'check --repair takes the files nothing can heal out of their backups\n');
    }
    if (report.damagedContents.length > 0 && !isRepair) {
      process.stdout.write('the damaged contents are marked: no backup reuses them (a file holding their data is stored again), but their files '
        + 'in the backups above cannot be restored; check --repair takes those out of their backups\n');
    }
    if (isRepair) {
      const removed = await store.repair();
      for (const file of removed) {
        process.stdout.write(`removed: client ${file.clientName} backup ${String(file.backupNumber).padStart(7, '0')} ${escapeBytes(file.path)} (its content is lost)\n`);
      }
      process.stdout.write(removed.length === 0 ? 'repair: no file had to be removed\n'
        : `repair: ${removed.length} files removed from their backups, which are now marked incomplete\n`);
      const orphanLists = await store.removeOrphanChunkLists();
      if (orphanLists > 0) process.stdout.write(`repair: removed the chunk lists of ${orphanLists} contents whose catalog rows are gone\n`);
      const forgotten = report.staleKnowledge.length > 0 ? await store.forgetStaleKnowledge() : 0;
      if (forgotten > 0) process.stdout.write(`repair: clients forgot ${forgotten} chunks none of their backups or holds references\n`);
      if (removed.length > 0) return EXIT.partial;
      // What the repair forgot is no longer a problem; anything else check found still is.
      return isClean({ ...report, staleKnowledge: [] }) ? EXIT.ok : EXIT.failure;
    }
    return isClean(report) ? EXIT.ok : EXIT.failure;
  } finally {
    await store.close();
  }
}

/** Like gc and check, on the stopped server's store (opening takes its process lock). */
async function runProtect(configFile: string, clientName: string, backupNumber: number, isProtected: boolean): Promise<number> {
  const config = await loadConfig(configFile);
  const { openConfiguredStore } = await import('../server/open-store');
  const store = await openConfiguredStore(config, { encoderThreads: 0, mustExist: true, logger: offlineLogger('cpsbackup-server') });
  try {
    const backup = store.findBackup(clientName, backupNumber);
    if (backup === undefined) throw new NotFoundError(`client "${shown(clientName)}" has no backup ${backupNumber}`);
    store.setProtected(backup, isProtected);
    process.stdout.write(`backup ${String(backupNumber).padStart(7, '0')} of ${clientName} ${isProtected
      ? 'protected: retention and -d skip it' : 'unprotected: the next retention may delete it'}\n`);
    return EXIT.ok;
  } finally {
    await store.close();
  }
}

/**
 * Like gc: on the stopped server's store; the running server applies the same rules after every commit.
 * A dry run deletes nothing, so it only reads the catalog: beside a running server too, without its lock.
 */
async function runRetentionCommand(configFile: string, clientName: string | undefined, isDryRun: boolean): Promise<number> {
  const config = await loadConfig(configFile);
  const { loadClientRegistry } = await import('../server/clients/load-client-registry');
  const { locationOf } = await import('../server/clients/client-registry');
  const { runRetention } = await import('../server/retention/retention-run');
  const logger = offlineLogger('cpsbackup-server');
  const registry = loadClientRegistry(config);
  for (const refused of registry.refused) logger.warn(`${locationOf(refused)}: ${refused.problem}`);
  const write = (line: string): void => { process.stdout.write(`${line}\n`); };
  if (isDryRun) {
    const { CommittedBackups } = await import('../chunkstore/read/committed-backups');
    const backups = CommittedBackups.open(config.directory, config.storage.kind);
    try {
      process.stdout.write('dry run: nothing is deleted\n');
      const removed = runRetention(backups, config, registry, { clientName, now: Date.now(), write });
      process.stdout.write(`${removed} backup${removed === 1 ? '' : 's'} would be removed\n`);
      return EXIT.ok;
    } finally {
      backups.close();
    }
  }
  const { openConfiguredStore } = await import('../server/open-store');
  const store = await openConfiguredStore(config, { encoderThreads: 0, mustExist: true, logger });
  try {
    const removed = runRetention(store, config, registry, { clientName, now: Date.now(), write, remove: (backups) => store.deleteBackups(backups) });
    const report = removed > 0 ? await store.collectGarbage() : undefined;
    process.stdout.write(`${removed} backup${removed === 1 ? '' : 's'} removed; ${report?.freedBytes ?? 0} bytes freed\n`);
    return EXIT.ok;
  } finally {
    await store.close();
  }
}

/** Never over an existing file: a new key would make everything sealed with the old one unreadable. */
async function initKey(file: string): Promise<number> {
  const { createKeyFile } = await import('../chunkstore/crypto/key-file');
  const key = await createKeyFile(file);
  process.stdout.write(`created key file ${file} (mode 0600, key id ${key.keyIdHex}); keep a copy away from this server: without it no backup can be read\n`);
  return EXIT.ok;
}

/**
 * Rebuilds this server's catalog from the newest snapshot in its bucket. Exit 3 whenever the installed catalog
 * lacks something the bucket shows: packs it names that are gone, a newer snapshot that did not open (said on
 * stderr with why), or packs in the bucket it does not name (how many, their bytes): it installed, but not
 * everything the bucket held is in it.
 */
async function runRecover(configFile: string, acceptsOlderSnapshot: boolean): Promise<number> {
  const config = await loadConfig(configFile);
  const storage = config.storage;
  if (storage.kind !== 's3') throw new ConfigError(config.file, undefined, 'recover rebuilds the catalog from a bucket: it needs storage = s3');
  const { loadConfiguredKey, openBucket } = await import('../server/open-store');
  const { recoverCatalog } = await import('../chunkstore/snapshot/recover-catalog');
  const key = await loadConfiguredKey(config);
  const backend = await openBucket(storage, undefined, false);
  const warn = offlineLogger('cpsbackup-server').warn;
  try {
    // Without the option, a newer snapshot that did not open leaves the folder empty (exit 1, said why).
    const recovered = await recoverCatalog(config.directory, backend, key!, { installsOlder: acceptsOlderSnapshot });
    for (const skipped of recovered.skipped) {
      process.stdout.write(`skipped: ${skipped}\n`);
      warn(`skipped catalog snapshot ${skipped}`);
    }
    process.stdout.write(`recovered the catalog from snapshot generation ${recovered.generation} in ${backend.location}: `
      + `${recovered.clients} clients, ${recovered.backups} backups, ${recovered.packs} packs\n`);
    let isPartial = false;
    if (recovered.generation < recovered.newestGeneration) {
      isPartial = true;
      warn(`installed catalog snapshot generation ${recovered.generation}, older than the bucket's newest, ${recovered.newestGeneration}, which did not open: `
        + `the backups, deletes and changes of the newer generations are not in this catalog`);
    }
    const unknown = recovered.unknownPacks;
    if (unknown.count > 0) {
      isPartial = true;
      warn(`${backend.location} holds ${unknown.count} packs (${unknown.bytes} bytes) this catalog does not name (${unknown.names.join(', ')}${unknown.count > unknown.names.length ? ', …' : ''}): `
        + 'they may hold backups it lacks (committed after its snapshot, or by a newer catalog); kept until `cpsbackup-server gc --delete-unknown-packs` deletes them');
    }
    process.stdout.write('packs in the bucket this catalog does not name are kept until `cpsbackup-server gc --delete-unknown-packs` (run check first)\n');
    for (const pack of recovered.missingPacks) process.stdout.write(`missing: pack ${pack} is referenced by the catalog but not in the bucket\n`);
    for (const line of recovered.shortPacks) process.stdout.write(`truncated: ${line}\n`);
    if (recovered.missingPacks.length > 0 || recovered.shortPacks.length > 0) {
      await warnOfLiveServer(config, backend, key);
      if (recovered.missingPacks.length > 0) {
        process.stdout.write(`${recovered.missingPacks.length} packs are missing: their chunks are marked damaged (the next backups holding `
          + 'their bytes store them again); run `cpsbackup-server check` to name the backups and files they break\n');
      }
      if (recovered.shortPacks.length > 0) {
        process.stdout.write(`${recovered.shortPacks.length} packs are shorter than the catalog recorded: what lies past their end is lost `
          + '(marked damaged, as above); run `cpsbackup-server check` to name the backups and files they break\n');
      }
      return EXIT.partial;
    }
    process.stdout.write('every pack the catalog references is in the bucket, at its size; backups committed after this snapshot are not in it\n');
    await warnOfLiveServer(config, backend, key);
    return isPartial ? EXIT.partial : EXIT.ok;
  } finally {
    await backend.close();
  }
}

/**
 * Keeps this catalog although the bucket holds newer catalog snapshots (it was put back from an older copy): opening
 * with acceptOlderCatalog records the bucket's newest generation, and closing stores the next snapshot.
 */
async function runAcceptCatalog(configFile: string): Promise<number> {
  const config = await loadConfig(configFile);
  if (config.storage.kind !== 's3') throw new ConfigError(config.file, undefined, 'accept-catalog concerns catalog snapshots in a bucket: it needs storage = s3');
  const { openConfiguredStore } = await import('../server/open-store');
  // The acceptance and the newer generations it gives up are said in the log.
  const store = await openConfiguredStore(config, { encoderThreads: 0, mustExist: true, acceptOlderCatalog: true, logger: createLogger('cpsbackup-server') });
  await store.close();
  const generation = store.snapshotStatus?.lastGeneration ?? 0;
  process.stdout.write(generation > 0
    ? `catalog snapshot generation ${generation} of this catalog stored; older generations are pruned as usual\n`
    : 'no catalog snapshot was stored (see the log above): run accept-catalog again once the bucket takes them\n');
  return generation > 0 ? EXIT.ok : EXIT.failure;
}

/** Removes the other servers' leases on this server's bucket, naming each; a second server in use is the operator's to know. */
async function runBreakLease(configFile: string): Promise<number> {
  const config = await loadConfig(configFile);
  if (config.storage.kind !== 's3') throw new ConfigError(config.file, undefined, 'break-lease removes leases on a bucket: it needs storage = s3');
  const { loadConfiguredKey, openBucket } = await import('../server/open-store');
  const { BucketLease } = await import('../chunkstore/lease/bucket-lease');
  const key = await loadConfiguredKey(config);
  const backend = await openBucket(config.storage, undefined, false);
  try {
    await mkdir(join(config.directory, 'staging'), { recursive: true, mode: 0o700 });
    const removed = await BucketLease.breakOthers({
      backend, directory: config.directory, stagingDirectory: join(config.directory, 'staging'), seal: await leaseSealOf(config, backend, key),
    });
    for (const holder of removed) process.stdout.write(`removed the lease of ${holder}\n`);
    process.stdout.write(removed.length === 0 ? `no other server holds a lease on ${backend.location}\n`
      : `${backend.location} is free; if that server still runs, stop it before starting this one: two servers on one bucket delete each other's packs\n`);
    return EXIT.ok;
  } finally {
    await backend.close();
  }
}

/**
 * recover only reads the bucket, so it runs beside a live server; but the catalog it made must not be
 * opened until that server stopped. Its lease tells which case this is; looking never fails recover.
 */
async function warnOfLiveServer(config: ServerConfig, backend: PackBackend, key: StoreKey | undefined): Promise<void> {
  const { BucketLease } = await import('../chunkstore/lease/bucket-lease');
  try {
    const holders = await BucketLease.liveHolders({ backend, stagingDirectory: join(config.directory, 'staging'), seal: await leaseSealOf(config, backend, key) });
    if (holders.length === 0) return;
    process.stdout.write(`warning: ${backend.location} is in use by another cpsbackup server (${holders.join('; ')}); this catalog opens only `
      + 'once that server stopped (or its lease expired, or `cpsbackup-server break-lease` removed it). Two servers on one bucket delete each '
      + 'other\'s packs: a drill belongs on a copy of the bucket\n');
  } catch (error) {
    process.stdout.write(`warning: could not look for another server's lease on ${backend.location}: ${errorMessage(error)}\n`);
  }
}

/** The key and store id lease records are sealed with, when the store is encrypted. */
async function leaseSealOf(config: ServerConfig, backend: PackBackend, key: StoreKey | undefined): Promise<BlobSeal | undefined> {
  if (key === undefined) return undefined;
  const { readIdentity } = await import('../chunkstore/store-identity');
  const identity = await readIdentity(backend, join(config.directory, 'staging'));
  return identity === undefined ? undefined : { key, storeId: identity.storeId };
}

/** grpc-js reports a taken port as "No address added … [listen EADDRINUSE …]": the configuration's fault, one line. */
function listenErrorOf(config: ServerConfig, error: unknown): unknown {
  const errno = (error as NodeJS.ErrnoException).code;
  const code = errno === 'EADDRINUSE' || errno === 'EADDRNOTAVAIL' || errno === 'EACCES' || errno === 'ENOTFOUND' ? errno : undefined;
  if (code === undefined) return error;
  return new ConfigError(config.file, undefined, `address ${shown(config.address)}, port ${config.port}: cannot listen (${code})`);
}

/** A command line that names nothing this program does. */
class UsageError extends Error {}

function subsetPercent(value: string): number {
  const match = /^(\d+(?:\.\d+)?)%?$/.exec(value);
  const percent = match ? Number(match[1]) : NaN;
  if (!(percent > 0 && percent <= 100)) throw new InvalidArgumentError('give a share of chunks between 0 and 100, e.g. 10%.');
  return percent;
}

/** The commands and options; `start` is handed the work the command line chose, once parsed. */
export function buildProgram(rawArgs: () => readonly Buffer[] | undefined, start: (work: Promise<number>) => void): Command {
  const program = new Command('cpsbackup-server')
    .description('cpsbackup backup server')
    .option('-c, --config <file>', 'server configuration', pathArgument(rawArgs), DEFAULT_CONFIG)
    .version(readPackageVersion())
    .exitOverride()
    .configureOutput({ outputError: () => undefined })
    .addHelpText('after', `
Signals: SIGHUP rereads the clients folder (clientconfdir) and the revocation list (ssl_crl), not server.conf (its settings changed on disk are named in a warning: restart to apply them); SIGTERM and SIGINT stop after running calls (new calls are refused meanwhile; at most stop_timeout, default 600 s, then the calls left are cut and named in the log; a second signal cuts them at once).

Space: a backup is refused at its start when the store's disk has less free than min_free
(server.conf, e.g. min_free = 5G) or its client uses its hard_quota (server.conf for every
client, or the client's record, e.g. hard_quota = 10G); soft_quota sends one "quota" notification per crossing.

Object storage (storage = s3): packs are staged under directory/staging until uploaded. s3_staging_max
(default 2G) bounds that folder: when it is full, backups wait for uploads (logged once per wait, never an
error); a bound smaller than one pack (pack_size + chunk_max_size + 64K) is refused at start. pack_size
(default 64M, 1M to 64M) is the size at which a pack is sealed and uploaded. s3_cache_size (default 1G,
0 turns it off) bounds a local LRU cache (directory/cache) of pack ranges read by restores and gc; each file is
checked against its SHA-256 when read and a damaged one is read again from the bucket. check always reads the bucket.

Examples:
  cpsbackup-server -c etc/backup/server.conf          run the server
  cpsbackup-server -c etc/backup/server.conf gc       collect garbage now (the server must be stopped;
                                                       a running server collects after each commit and delete);
                                                       packs the catalog does not name and no crash left are kept
                                                       and named (they may be a newer catalog's: recover it first);
                                                       gc --delete-unknown-packs deletes them
  cpsbackup-server -c etc/backup/server.conf check --read-data
                                                      verify catalog and packs, decompress and re-hash every chunk
                                                      (exit 1 and the affected backups and files on damage)
  cpsbackup-server -c etc/backup/server.conf status   summary of the running server's status port (clients, states)
  cpsbackup-server -c etc/backup/server.conf protect node1 12
                                                      retention and -d skip backup 12 of node1 (unprotect undoes it;
                                                       the server must be stopped, as for gc; a running server takes
                                                       cpsbackup --protect / --unprotect from the client)
  cpsbackup-server -c etc/backup/server.conf retention --dry-run node1
                                                      each backup of node1: kept (and by which rule: keep, keep_daily …)
                                                       or removed; without --dry-run the removed ones are deleted
  cpsbackup-server init-key /etc/cpsbackup/store.key  create the store's encryption key (mode 0600, never overwritten);
                                                       name it in server.conf as encryption_key_file
  cpsbackup-server -c etc/backup/server.conf recover  new machine, empty store folder: fetch the newest catalog snapshot
                                                       from the bucket (storage = s3), check every pack it references
                                                       (exit 3 and the missing ones named), install it
  cpsbackup-server -c etc/backup/server.conf accept-catalog
                                                      the log said the catalog is older than the bucket's newest
                                                       snapshot and you want this one: store its snapshots again
                                                       (the newer ones are then pruned; recover gets them back instead)
  cpsbackup-server -c etc/backup/server.conf break-lease
                                                      the old server is gone for good: remove its lease on the bucket
                                                       now instead of 30 minutes after its last renewal`)
    .action(() => {
      // Without this check a mistyped command ("chekc") was taken for no command: it started a server.
      if (program.args.length > 0) throw new UsageError(`unknown command "${shown(program.args[0])}" (commands: gc, check, status, protect, unprotect, retention, init-key, recover, accept-catalog, break-lease)`);
      start(runServer(program.opts().config));
    });
  program.command('gc')
    .description('delete unreferenced chunks and compact packs')
    .option('--delete-unknown-packs', 'also delete the packs the catalog does not name and no crash of this store left (by default kept and '
      + 'named: they may hold backups of a newer catalog, e.g. after catalog.db was put back from a copy; `recover` that one first)')
    .allowExcessArguments(false)
    .action((options: { deleteUnknownPacks?: boolean }) => { start(runGarbageCollection(program.opts().config, options.deleteUnknownPacks === true)); });
  program.command('check')
    .description('verify the catalog against the packs; name damaged chunks and the backups and files they break')
    .option('--read-data', 'also decompress and re-hash every chunk')
    .option('--read-data-subset <percent>', 'also decompress and re-hash a random share of chunks, e.g. 10%', subsetPercent)
    .option('--repair', 'take the files whose content is lost (a damaged chunk no later backup healed) out of their backups, and name them')
    .allowExcessArguments(false)
    .action((options: { readData?: boolean; readDataSubset?: number; repair?: boolean }) => {
      if (options.readData && options.readDataSubset !== undefined) {
        throw new InvalidArgumentError('choose one of --read-data and --read-data-subset');
      }
      start(runCheck(program.opts().config, options.readData ? 100 : options.readDataSubset ?? 0, options.repair === true));
    });
  program.command('status')
    .description("print the running server's status (GET /status on status_address:status_port)")
    .option('--url <url>', 'status port to ask instead of the configured one, e.g. http://127.0.0.1:4201 (https://… with status_ssl = 1: the certificate must chain to ssl_ca)')
    .option('--json', 'print the JSON as the server returns it')
    .allowExcessArguments(false)
    .action((options: { url?: string; json?: boolean }) => { start(printStatus(program.opts().config, options)); });
  for (const isProtected of [true, false]) {
    program.command(isProtected ? 'protect' : 'unprotect')
      .description(isProtected ? 'protect a backup: retention and delete skip it (with the server stopped)'
        : 'take the protection off a backup; the next retention may delete it (with the server stopped)')
      .argument('<client>', 'the client name (its file in clientconfdir)')
      .argument('<id>', 'the backup number, e.g. 12 or 0000012', backupIdArgument)
      .allowExcessArguments(false)
      .action((clientName: string, backupNumber: number) => {
        start(runProtect(program.opts().config, clientName, backupNumber, isProtected));
      });
  }
  program.command('retention')
    .description('apply retention now to every client (or one), printing each backup kept or removed and the rule that keeps it '
      + '(with the server stopped)')
    .option('--dry-run', 'print the decisions only; delete nothing')
    .argument('[client]', 'only this client')
    .allowExcessArguments(false)
    .action((clientName: string | undefined, options: { dryRun?: boolean }) => {
      start(runRetentionCommand(program.opts().config, clientName, options.dryRun === true));
    });
  program.command('init-key')
    .description('create a new store encryption key file (mode 0600; an existing file is never overwritten)')
    .argument('<file>', 'where the key goes', pathArgument(rawArgs))
    .allowExcessArguments(false)
    .action((file: string) => { start(initKey(file)); });
  program.command('break-lease')
    .description('remove the bucket leases of other store folders (their servers must be gone)')
    .allowExcessArguments(false)
    .action(() => { start(runBreakLease(program.opts().config)); });
  program.command('accept-catalog')
    .description('keep this catalog although the bucket holds newer catalog snapshots (catalog.db put back from an older copy); '
      + 'its next snapshots prune them (with the server stopped)')
    .allowExcessArguments(false)
    .action(() => { start(runAcceptCatalog(program.opts().config)); });
  program.command('recover')
    .description('rebuild the catalog of an empty store folder from the newest catalog snapshot in the bucket')
    .option('--accept-older-snapshot', 'when the newest snapshots do not open, install the newest one that does (it lacks what they hold)')
    .allowExcessArguments(false)
    .action((options: { acceptOlderSnapshot?: boolean }) => { start(runRecover(program.opts().config, options.acceptOlderSnapshot === true)); });
  return refuseRepeatedOptions(program);
}

/** rawArgs: the arguments as the shell passed them (raw-arguments.ts), to refuse a path that is not UTF-8. */
export async function main(argv: string[], rawArgs: () => readonly Buffer[] | undefined = () => undefined): Promise<number> {
  let action: Promise<number> | undefined;
  const program = buildProgram(rawArgs, (work) => { action = work; });
  try {
    await program.parseAsync(argv);
    return action ? await action : EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError || error instanceof UsageError) {
      if (error instanceof CommanderError && error.exitCode === 0) return EXIT.ok;
      process.stderr.write(`cpsbackup-server: ${shown(error.message.replace(/^error: /, ''), 300)}\n${USAGE}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`cpsbackup-server: ${errorMessage(error)}\n`);
    if (!(error instanceof BackupError) && !isEnvironmentError(error)) process.stderr.write(`${(error as Error)?.stack ?? ''}\n`);
    return exitCodeOf(error);
  }
}

if (require.main === module) {
  keepHeapHeadroom();
  // `cpsbackup-server 2>&1 | tee log` whose tee died: the log lines are lost, the backups go on.
  surviveClosedOutput();
  exitWith(main(process.argv, () => rawArguments()), 'cpsbackup-server');
}
