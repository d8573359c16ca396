#!/usr/bin/env node
// cpsbackup-server: runs the backup server (default), or maintenance on its store (gc).
// Errors are one line on stderr; configuration mistakes exit 2.
import { Command, CommanderError } from 'commander';
import { loadServerConfig } from '../common/config/server-config';
import { createLogger } from '../common/logger';
import { startBackupServer } from '../server/backup-server';
import { ChunkStore } from '../chunkstore/store';
import { BackupError, errorMessage } from '../common/errors';
import { EXIT, exitCodeOf } from './exit-codes';

const DEFAULT_CONFIG = '/etc/cpsbackup/server.conf';

async function runServer(configFile: string): Promise<number> {
  const config = loadServerConfig(configFile);
  const logger = createLogger('cpsbackup-server');
  const server = await startBackupServer(config, logger);
  process.stdout.write(`cpsbackup-server listening on ${config.address}:${server.port}\n`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info(`${signal}: stopping after running calls end`);
  await server.stop();
  return EXIT.ok;
}

async function runGarbageCollection(configFile: string): Promise<number> {
  const config = loadServerConfig(configFile);
  const store = await ChunkStore.open(config.directory, {
    chunker: { name: config.chunker, minSize: config.chunkMinSize, avgSize: config.chunkAvgSize, maxSize: config.chunkMaxSize },
    compressionLevel: config.compressionLevel,
    configFile: config.file,
  });
  try {
    const report = await store.collectGarbage();
    process.stdout.write(`gc: deleted ${report.deletedContents} contents, ${report.deletedChunks} chunks, ${report.deletedPacks} packs; rewrote ${report.rewrittenPacks} packs; freed ${report.freedBytes} bytes\n`);
  } finally {
    await store.close();
  }
  return EXIT.ok;
}

export async function main(argv: string[]): Promise<number> {
  let action: Promise<number> | undefined;
  const program = new Command('cpsbackup-server')
    .description('cpsbackup backup server')
    .option('-c, --config <file>', 'server configuration', DEFAULT_CONFIG)
    .exitOverride()
    .configureOutput({ outputError: () => undefined })
    .addHelpText('after', `
Examples:
  cpsbackup-server -c etc/backup/server.conf          run the server
  cpsbackup-server -c etc/backup/server.conf gc       collect garbage now (the server must be stopped;
                                                       a running server collects after each commit and delete)`)
    .action(() => { action = runServer(program.opts().config); });
  program.command('gc')
    .description('delete unreferenced chunks and compact packs')
    .action(() => { action = runGarbageCollection(program.opts().config); });
  try {
    await program.parseAsync(argv);
    return action ? await action : EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return EXIT.ok;
      process.stderr.write(`cpsbackup-server: ${error.message.replace(/^error: /, '')}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`cpsbackup-server: ${errorMessage(error)}\n`);
    if (!(error instanceof BackupError)) process.stderr.write(`${(error as Error)?.stack ?? ''}\n`);
    return exitCodeOf(error);
  }
}

if (require.main === module) {
  main(process.argv).then((code) => process.exit(code));
}
