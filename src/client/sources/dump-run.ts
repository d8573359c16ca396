// Starts every dump source's dumpers writing into FIFOs under <work>/dumps/<source>/ and collects
// their exit status: the uploader streams each FIFO as a file, no dump ever lands on disk.
import { mkdir, rmdir } from 'node:fs/promises';
import { Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { DumpFailedError, errorMessage } from '../../common/errors';
import { describeFailure, isSuccess, startProcess, type ProcessOutcome, type RunningProcess } from './child-process';
import { DUMPS_FOLDER } from './dump-names';
import { isPartialDump, planDumps, type DumpPlan } from './dump-plans';
import { partialLabels } from './partial-dumps';
import { PartialBase } from './partial-base';
import { closeDescriptor, makeFifo, openFifoEnds, removeFifo, type FifoIdentity } from './fifo';
import type { DumpSource, StorageConfig } from './storage-config';
import { versionLabels } from './version-labels';
import { identityLabels } from './source-identity';
import { untrustedFolderReason } from './trusted-folder';

export interface DumpFile {
  /** Absolute FIFO path: <workDirectory>/dumps/<source>/<name> (e.g. 'dump' or '<collection>.bson'). */
  readonly path: string;
  readonly sourceName: string;
}

export interface DumpRun {
  /** <workDirectory>/dumps */
  readonly directory: string;
  readonly files: readonly DumpFile[];
  /** 'version.<source>' → first line of version_command output. */
  readonly labels: Readonly<Record<string, string>>;
  /** The FIFO's content. Always ends, even when the dumper dies before opening the FIFO
   *  (then the content is empty or truncated and finish() rejects). Once per file. */
  openDump(file: DumpFile): Socket;
  /** Waits for every dumper; rejects with DumpFailedError (source name, exit code or signal,
   *  last ~2 KiB of its stderr) if any failed or timed out. Removes the FIFOs. A FIFO never
   *  opened is closed first, so its dumper fails rather than waiting forever for a reader. */
  finish(): Promise<void>;
  /** Kills every dumper still running and removes the FIFOs. Idempotent. */
  abort(): Promise<void>;
}

interface RunningDump {
  readonly file: DumpFile;
  readonly source: DumpSource;
  readonly fifo: FifoIdentity;
  readDescriptor: number | undefined;
  process: RunningProcess | undefined;
}

export async function startDumps(
  config: StorageConfig,
  workDirectory: string,
  options: { partialSince?: Date; signal?: AbortSignal } = {},
): Promise<DumpRun> {
  options.signal?.throwIfAborted();
  const directory = join(resolve(workDirectory), DUMPS_FOLDER);
  await mkdir(directory, { recursive: true, mode: 0o700 });
  // Every backup says which sources it dumped: the next partial builds only on those (isPartialDump).
  const labels = { ...await versionLabels(config.sources), ...identityLabels(config.sources) };
  const planned: { source: DumpSource; plan: DumpPlan }[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  const dumps: RunningDump[] = [];
  try {
    if (options.partialSince !== undefined) {
      const partialSources = config.sources.filter((source) => isPartialDump(source, options.partialSince)).map((source) => source.name);
      const follows = options.partialSince instanceof PartialBase ? options.partialSince.followsBackupId : 0;
      Object.assign(labels, partialLabels(partialSources, follows));
    }
    for (const source of config.sources) {
      const sourcePlan = await planDumps(source, options.partialSince, workDirectory);
      if (sourcePlan.cleanup !== undefined) cleanups.push(sourcePlan.cleanup);
      Object.assign(labels, sourcePlan.labels);
      for (const plan of sourcePlan.plans) planned.push({ source, plan });
    }
    for (const { source, plan } of planned) {
      options.signal?.throwIfAborted();
      dumps.push(await startDump(directory, source, plan));
    }
  } catch (error) {
    await stopAndClean(directory, dumps, true, cleanups);
    throw error;
  }
  return new FifoDumpRun(directory, dumps, labels, cleanups, options.signal);
}

async function startDump(directory: string, source: DumpSource, plan: DumpPlan): Promise<RunningDump> {
  const sourceDirectory = join(directory, source.name);
  await mkdir(sourceDirectory, { recursive: true, mode: 0o700 });
  checkFifoFolder(source.name, sourceDirectory);
  const path = join(sourceDirectory, plan.fileName);
  const fifo = await makeFifo(source.name, path);
  const dump: RunningDump = { file: Object.freeze({ path, sourceName: source.name }), source, fifo, readDescriptor: undefined, process: undefined };
  let ends;
  try {
    ends = await openFifoEnds(source.name, path, fifo);
  } catch (error) {
    await removeFifo(path, fifo);
    throw error;
  }
  dump.readDescriptor = ends.readDescriptor;
  try {
    // The child's stdout is the FIFO itself: the dump goes straight to the reader, no copy.
    dump.process = startProcess(plan.file, plan.args, {
      stdin: plan.input === undefined ? 'ignore' : 'pipe',
      stdout: ends.writeDescriptor,
      timeoutSeconds: source.timeoutSeconds,
      deadlineStartsOnRead: true,
      env: plan.env,
      failsOnLeftovers: true,
    });
    // The script is small; the child reads it as it goes. A child that dies early fails the run anyway.
    if (plan.input !== undefined) dump.process.stdin?.end(plan.input);
  } finally {
    // Our copy of the write end must go, or the reader would never see EOF.
    await closeDescriptor(ends.writeDescriptor);
  }
  return dump;
}

/**
 * The FIFO is made, checked and opened by path: in a folder someone else may write to (or swap), they could
 * put a file of theirs at its name in between, and the dumper would write the database into it.
 */
function checkFifoFolder(sourceName: string, folder: string): void {
  const untrusted = untrustedFolderReason(folder);
  if (untrusted !== undefined) throw new DumpFailedError(sourceName, `no dump FIFO made: ${untrusted} (give work_directory a folder only root may write to)`);
}

class FifoDumpRun implements DumpRun {
  readonly files: readonly DumpFile[];
  private ending: Promise<ProcessOutcome[]> | undefined;
  private readonly onAbort = (): void => void this.abort();

  constructor(
    readonly directory: string,
    private readonly dumps: readonly RunningDump[],
    readonly labels: Readonly<Record<string, string>>,
    private readonly cleanups: readonly (() => Promise<void>)[],
    private readonly signal: AbortSignal | undefined,
  ) {
    this.files = Object.freeze(dumps.map((dump) => dump.file));
    this.labels = Object.freeze({ ...labels });
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  openDump(file: DumpFile): Socket {
    const dump = this.dumps.find((candidate) => candidate.file.path === file.path);
    if (dump === undefined) throw new Error(`${file.path} is not a dump of this run`);
    if (dump.readDescriptor === undefined) throw new Error(`${file.path} was already opened, or the run has ended`);
    const descriptor = dump.readDescriptor;
    dump.readDescriptor = undefined;
    dump.process?.startDeadline();
    // A Socket reads the pipe in the event loop (EAGAIN waits for readiness), so a slow dumper
    // blocks no thread, and pausing the stream stops reading: the dumper blocks on a full pipe.
    return new Socket({ fd: descriptor, readable: true, writable: false });
  }

  async finish(): Promise<void> {
    const outcomes = await this.end(false);
    const failures = this.dumps
      .map((dump, index) => ({ dump, outcome: outcomes[index] }))
      .filter(({ outcome }) => !isSuccess(outcome));
    if (failures.length === 0) return;
    const [first, ...others] = failures;
    const also = others.length === 0 ? '' : ` (also failed: ${[...new Set(others.map(({ dump }) => dump.file.path))].join(', ')})`;
    throw new DumpFailedError(
      first.dump.source.name,
      `${first.dump.file.path}: dumper ${describeFailure(first.outcome, first.dump.source.timeoutSeconds)}${also}`,
      first.outcome.stderrTail,
    );
  }

  async abort(): Promise<void> {
    await this.end(true);
  }

  private end(isAbort: boolean): Promise<ProcessOutcome[]> {
    if (this.ending === undefined) {
      this.signal?.removeEventListener('abort', this.onAbort);
      this.ending = stopAndClean(this.directory, this.dumps, isAbort, this.cleanups);
    } else if (isAbort) {
      // finish() already waits; an abort during it must still stop the dumpers.
      for (const dump of this.dumps) dump.process?.kill();
    }
    return this.ending;
  }
}

async function stopAndClean(directory: string, dumps: readonly RunningDump[], isAbort: boolean,
  cleanups: readonly (() => Promise<void>)[]): Promise<ProcessOutcome[]> {
  for (const dump of dumps) {
    if (isAbort) dump.process?.kill();
    if (dump.readDescriptor !== undefined) {
      const descriptor = dump.readDescriptor;
      dump.readDescriptor = undefined;
      await closeDescriptor(descriptor);
    }
  }
  const outcomes = await Promise.all(dumps.map((dump) => dump.process?.outcome ?? notStarted()));
  for (const dump of dumps) await removeFifo(dump.file.path, dump.fifo);
  for (const sourceDirectory of new Set(dumps.map((dump) => join(directory, dump.source.name)))) {
    await rmdir(sourceDirectory).catch(() => undefined);
  }
  await rmdir(directory).catch(() => undefined);
  // Credential files go once no dumper can still be reading them.
  for (const cleanup of cleanups) {
    await cleanup().catch((error: unknown) => process.emitWarning(`cannot remove a credential folder: ${errorMessage(error)}`));
  }
  return outcomes;
}

function notStarted(): Promise<ProcessOutcome> {
  return Promise.resolve({ code: null, signal: null, isTimedOut: false, isKilled: true, startError: 'not started', stderrTail: '', stdoutHead: '', stdoutTail: '' });
}
