// Entry point of `npm run bench`: one corpus, restic, borg and cpsbackup run on it in turn, one table,
// target checks, and bench/results/<date>.json and .md. Tools missing here are reported, not faked.
import { cpus, loadavg, totalmem, release } from 'node:os';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { errorMessage } from '../src/common/errors';
import { generateCorpus, mutateCorpus } from './corpus';
import { generateManyFiles } from './corpus-many';
import { buildRows, checkTargets, renderMarkdown, renderProblems, renderTable, renderTargets } from './report';
import { combineRounds, renderRounds, roundOrder } from './rounds';
import { newToolResult, runGenerationOne, runGenerationTwo, runManyFiles, type ToolResult } from './scenarios';
import { isBucketTool, readSettings, type BenchSettings, type ToolName } from './settings';
import { startCeph, type CephCluster } from '../test/support/ceph';
import type { BucketTarget } from './tools/bucket-bytes';
import { BorgRunner } from './tools/borg';
import { CpsbackupRunner } from './tools/cpsbackup';
import { ResticRunner } from './tools/restic';
import type { RunnerContext, ToolRunner } from './tools/runner';
import { treeManifest, treeSize, warmUp } from './tree';

const mebibyte = 1024 * 1024;

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** The tool's own bucket on the run's gateway: restic and cpsbackup never share one. */
function bucketOf(cluster: CephCluster | undefined, name: ToolName): BucketTarget {
  if (cluster === undefined) throw new Error(`${name} needs the Ceph gateway (BENCH_STORE=s3)`);
  return { endpoint: cluster.endpoint, bucket: `bench-${name}`, credentials: cluster.credentials, credentialsFile: cluster.credentialsFile };
}

function makeRunner(name: ToolName, context: RunnerContext, settings: BenchSettings, cluster?: CephCluster): ToolRunner {
  switch (name) {
    case 'restic':
      return new ResticRunner(context);
    case 'restic-s3':
      return new ResticRunner(context, bucketOf(cluster, name));
    case 'cpsbackup-s3':
      return new CpsbackupRunner(context, {
        name, projectRoot: settings.projectRoot, nodeArgs: settings.cpsbackupNodeArgs, serverLines: settings.cpsbackupServerLines,
        chunking: settings.cpsbackupChunking, bucket: bucketOf(cluster, name),
      });
    case 'borg':
      return new BorgRunner(context, settings.borgEncryption);
    case 'cpsbackup':
    case 'cpsbackup-wire':
      return new CpsbackupRunner(context, {
        name, projectRoot: settings.projectRoot, nodeArgs: settings.cpsbackupNodeArgs, serverLines: settings.cpsbackupServerLines,
        chunking: settings.cpsbackupChunking, countWire: name === 'cpsbackup-wire',
      });
  }
}

/** Stops each runner's processes; one that fails to stop is logged, and the others are still stopped. */
async function closeRunners(runners: readonly ToolRunner[]): Promise<void> {
  for (const runner of runners) await runner.close().catch((error: unknown) => log(`closing ${runner.name}: ${errorMessage(error)}`));
}

/** A file name from the start time that sorts and never contains a colon. */
export function resultName(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
}

async function benchmark(settings: BenchSettings, work: string, restoreParent: string, runners: ToolRunner[], results: ToolResult[]): Promise<Record<string, unknown>> {
  const corpusRoot = join(work, 'corpus');
  const options = { root: corpusRoot, sizeBytes: Math.round(settings.sizeMiB * mebibyte), seed: settings.seed };
  log(`generating a ${settings.sizeMiB} MiB corpus (seed ${settings.seed}) in ${corpusRoot}`);
  const corpus = await generateCorpus(options);
  const generationOne = await treeSize(corpusRoot);
  log(`corpus: ${generationOne.files} files, ${(generationOne.bytes / mebibyte).toFixed(1)} MiB (${corpus.binaryFiles} binaries, ${corpus.textFiles} text files, ${corpus.dumpRecords} dump records)`);

  for (const [index, runner] of runners.entries()) {
    const probe = await runner.probe();
    if ('missing' in probe) {
      results[index].missing = probe.missing;
      log(`${runner.name} is missing: ${probe.missing}${runner.name === 'cpsbackup' ? ' — running the other tools only' : ''}`);
    } else {
      results[index].version = probe.version;
      log(`${runner.name} ${probe.version}`);
    }
  }

  // Warmed right before each tool, not once for all: this machine's memory reclaim (DAMON) pages
  // out what sat unread for a while, so the tools that ran later used to start half cold.
  const warm = async (runner: ToolRunner): Promise<void> => {
    const warmBytes = await warmUp(corpusRoot);
    log(`warm-up for ${runner.name}: read ${(warmBytes / mebibyte).toFixed(1)} MiB of the corpus (page cache warm, nothing dropped)`);
  };
  for (const [index, runner] of runners.entries()) {
    await warm(runner);
    await runGenerationOne(runner, results[index], generationOne.bytes, log);
  }

  const mutation = await mutateCorpus(options);
  const generationTwo = await treeSize(corpusRoot);
  log(
    `generation 2: ${mutation.filesEdited} files edited, ${mutation.filesAdded} added, ${mutation.filesDeleted} deleted; dump ${mutation.dump.changed} records changed, ${mutation.dump.deleted} deleted, ${mutation.dump.appended} appended`,
  );
  const expected = await treeManifest(corpusRoot);
  log(`hashed all ${(generationTwo.bytes / mebibyte).toFixed(1)} MiB of generation 2 for the restore check`);
  const restores = join(restoreParent, 'restore');
  for (const [index, runner] of runners.entries()) {
    await warm(runner);
    await runGenerationTwo(runner, results[index], generationTwo.bytes, expected, join(restores, runner.name), log);
  }
  await rm(restores, { recursive: true, force: true });
  return { generationOne, generationTwo, corpus, mutation };
}

/**
 * E and F: a corpus of many small files and one large file, a fresh repository per tool (for
 * cpsbackup a fresh server process, which serves the backup and then the restore). The counted-wire
 * run adds nothing here and is left out.
 */
async function benchmarkManyFiles(settings: BenchSettings, work: string, restoreParent: string, results: ToolResult[], started: ToolRunner[]): Promise<Record<string, unknown>> {
  const corpusRoot = join(work, 'many');
  log(`generating ${settings.manyFiles} small files and a ${settings.manyLargeMiB} MiB file in ${corpusRoot}`);
  await generateManyFiles({ root: corpusRoot, smallFiles: settings.manyFiles, largeFileBytes: settings.manyLargeMiB * mebibyte, seed: settings.seed });
  const size = await treeSize(corpusRoot);
  const expected = await treeManifest(corpusRoot);
  const restores = join(restoreParent, 'restore-many');
  for (const result of results) {
    // The bucket runs cover A to D: E/F measure memory at scale, which the store's place does not change.
    if (result.tool === 'cpsbackup-wire' || isBucketTool(result.tool) || result.missing !== undefined) continue;
    const workDirectory = join(work, `${result.tool}-many`);
    await mkdir(workDirectory, { recursive: true });
    const runner = makeRunner(result.tool as ToolName, { corpusRoot, workDirectory }, settings);
    started.push(runner);
    const warmBytes = await warmUp(corpusRoot);
    log(`warm-up for ${runner.name}: read ${(warmBytes / mebibyte).toFixed(1)} MiB of the many-files corpus`);
    // A failure here is this scenario's, not the tool's A–D record.
    const scenarioResult = newToolResult(result.tool);
    await runManyFiles(runner, scenarioResult, size.bytes, expected, join(restores, runner.name), log);
    Object.assign(result.scenarios, scenarioResult.scenarios);
    if (scenarioResult.error !== undefined) result.error = `${result.error === undefined ? '' : `${result.error}; `}E/F: ${scenarioResult.error}`;
    await runner.close();
    await rm(workDirectory, { recursive: true, force: true });
  }
  await rm(restores, { recursive: true, force: true });
  return { manyFiles: { files: size.files, bytes: size.bytes } };
}

/** A new folder of this run's own under `parent`, which is made if missing. */
async function freshFolderIn(parent: string, prefix: string): Promise<string> {
  await mkdir(parent, { recursive: true });
  return mkdtemp(join(parent, prefix));
}

async function main(): Promise<number> {
  const settings = readSettings(process.env, resolve(__dirname, '..', '..'));
  const started = new Date();
  const loadBefore = loadavg()[0];
  const work = await freshFolderIn(settings.workParent, 'cpsbackup-bench-');
  const restoreParent = settings.restoreParent === undefined ? work : await freshFolderIn(settings.restoreParent, 'cpsbackup-bench-restores-');
  // One throwaway single-node Ceph with its RADOS Gateway for every -s3 tool, stopped (by PID) at the end.
  let cluster: CephCluster | undefined;
  if (settings.store === 's3') {
    log('starting a single-node Ceph RGW for the bucket runs (test/support/ceph.ts)');
    cluster = await startCeph();
    log(`Ceph RGW at ${cluster.endpoint}`);
  }
  // Every runner any round made, for the interrupt and the final stop.
  const runners: ToolRunner[] = [];
  const stopRunners = (): Promise<void> => closeRunners(runners);
  const onInterrupt = (): void => {
    void stopRunners().then(() => cluster?.stop()).finally(() => process.exit(130));
  };
  process.once('SIGINT', onInterrupt);
  process.once('SIGTERM', onInterrupt);

  const rounds: ToolResult[][] = [];
  let results: ToolResult[] = [];
  let corpusFacts: Record<string, unknown> = {};
  try {
    for (let round = 0; round < settings.rounds; round++) {
      // A round of its own folder (corpus and repositories), removed before the next: the same seed
      // gives the same corpus, and no round's restores or repositories fill the disk for the next.
      const roundWork = settings.rounds === 1 ? work : join(work, `round-${round + 1}`);
      if (settings.rounds > 1) log(`round ${round + 1} of ${settings.rounds}`);
      const roundRunners: ToolRunner[] = [];
      for (const name of settings.tools) {
        const workDirectory = join(roundWork, name);
        await mkdir(workDirectory, { recursive: true });
        roundRunners.push(makeRunner(name, { corpusRoot: join(roundWork, 'corpus'), workDirectory }, settings, cluster));
      }
      runners.push(...roundRunners);
      const roundResults = roundRunners.map((runner) => newToolResult(runner.name));
      const order = roundOrder(roundRunners.map((_, index) => index), round);
      corpusFacts = await benchmark(settings, roundWork, restoreParent, order.map((index) => roundRunners[index]), order.map((index) => roundResults[index]));
      await closeRunners(roundRunners);
      rounds.push(roundResults);
      if (settings.rounds > 1 && !settings.keepWork) await rm(roundWork, { recursive: true, force: true });
    }
    results = combineRounds(rounds);
    // The gateway's daemons take CPU and memory even idle; E/F do not use it.
    await cluster?.stop();
    cluster = undefined;
    // Once, after the rounds: E/F measure memory at scale, and take longer than A–D.
    if (settings.manyFiles > 0) Object.assign(corpusFacts, await benchmarkManyFiles(settings, work, restoreParent, results, runners));
  } finally {
    await stopRunners();
    await cluster?.stop();
    process.removeListener('SIGINT', onInterrupt);
    process.removeListener('SIGTERM', onInterrupt);
    if (settings.keepWork) log(`work folder kept: ${work}`);
    else await rm(work, { recursive: true, force: true });
    if (restoreParent !== work) await rm(restoreParent, { recursive: true, force: true });
  }

  const tools = results.map((result) => result.tool);
  log('');
  log(renderTable(buildRows(results), tools));
  log('');
  log(renderTargets(checkTargets(results)));
  const roundLines = renderRounds(rounds, results);
  for (const line of roundLines) log(line);
  for (const line of renderProblems(results)) log(line);
  log(`load average (1 min) at start / end: ${loadBefore.toFixed(2)} / ${loadavg()[0].toFixed(2)} on ${cpus().length} cores; wall times are only comparable on a quiet machine`);

  const name = resultName(started);
  const settingsSummary = {
    'corpus MiB': settings.sizeMiB,
    seed: settings.seed,
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB, Linux ${release()}, node ${process.version}`,
    'page cache': 'warm: a full read of the corpus before each generation, nothing dropped',
    'borg encryption': settings.borgEncryption,
    restores: settings.restoreParent === undefined ? 'in the work folder' : `under ${settings.restoreParent} (BENCH_RESTORE_DIR)`,
    store: settings.store === 's3' ? 'local folders, and for restic-s3 / cpsbackup-s3 a single-node Ceph 16 RGW on loopback (bluestore on a file), a bucket each' : 'local folders',
    // Other work on the machine inflates wall times; CPU seconds are the steadier comparison.
    'load average (1 min) at start / end': `${loadBefore.toFixed(2)} / ${loadavg()[0].toFixed(2)}`,
    rounds: settings.rounds === 1 ? '1 (BENCH_ROUNDS)'
      : `${settings.rounds} of A–D, medians in the table, each round below; ${settings.manyFiles > 0 ? 'E/F once, after them' : 'E/F not run (BENCH_MANY_FILES=0)'}`,
  };
  const notes = [
    'CPU s = user + system seconds of every process of the step (client + server for cpsbackup)',
    'throughput = corpus bytes / wall time (for B as well, so a fast no-change backup shows as high throughput)',
    'C new bytes = repository disk usage after C minus after B',
    `E/F: ${settings.manyFiles} small files (100 B to 4 KiB) and one ${settings.manyLargeMiB} MiB file, a fresh repository; F restores E`,
    'restic-s3 / cpsbackup-s3 (BENCH_STORE=s3): repository in a bucket of the same RGW; repo rows are the bucket\'s object bytes; E/F not run for them',
    'wire bytes: cpsbackup-wire runs cpsbackup on its own store with the client behind a byte-counting TCP proxy (TLS included)',
    'peak RSS: GNU time %M for one-shot commands; the cpsbackup server from /proc VmHWM, reset per scenario',
  ];
  await mkdir(settings.resultsDirectory, { recursive: true });
  const document = { date: started.toISOString(), settings: { ...settings, ...settingsSummary }, ...corpusFacts, results, targets: checkTargets(results),
    ...(rounds.length > 1 ? { rounds } : {}) };
  await writeFile(join(settings.resultsDirectory, `${name}.json`), JSON.stringify(document, null, 2) + '\n');
  await writeFile(join(settings.resultsDirectory, `${name}.md`), renderMarkdown(results, { date: started.toISOString(), settings: settingsSummary, notes, rounds: roundLines }));
  log(`\nresults: ${join(settings.resultsDirectory, name)}.{json,md}`);
  return results.some((result) => result.error !== undefined) ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      process.stderr.write(`bench: ${errorMessage(error)}\n`);
      process.exitCode = 1;
    },
  );
}
