// The benchmark scenarios, run by one tool runner: A first backup, B unchanged backup, C backup of
// generation 2, D restore of the latest into a fresh folder, verified by hashes; then, on a corpus
// of many small files and one large one, E its first backup and F its restore (memory at scale).
import { mkdir } from 'node:fs/promises';
import { CorruptError } from '../src/common/errors';
import { runQuiet } from './measure';
import { compareManifests, treeManifest, treeSize } from './tree';
import type { StepResult, ToolRunner } from './tools/runner';
import type { WireBytes } from './tools/byte-counting-proxy';

export type ScenarioName = 'A' | 'B' | 'C' | 'D' | 'E' | 'F';
export const scenarioNames: readonly ScenarioName[] = ['A', 'B', 'C', 'D', 'E', 'F'];
export const scenarioTitles: Readonly<Record<ScenarioName, string>> = {
  A: 'first backup',
  B: 'backup, nothing changed',
  C: 'backup of generation 2',
  D: 'restore latest',
  E: 'first backup of many small files and one large file',
  F: 'restore of E',
};

export interface ScenarioResult {
  readonly wallSeconds: number;
  /** Corpus bytes the scenario covers (throughput = bytes / wall). */
  readonly bytes: number;
  readonly peakRssBytes: Readonly<Record<string, number>>;
  readonly cpuSeconds: Readonly<Record<string, number>>;
  readonly wireBytes?: WireBytes;
}

export interface ToolResult {
  readonly tool: string;
  version?: string;
  missing?: string;
  error?: string;
  readonly scenarios: Partial<Record<ScenarioName, ScenarioResult>>;
  /** Repository disk usage after each backup. */
  readonly repositoryBytes: Partial<Record<'A' | 'B' | 'C', number>>;
  restoreVerified?: boolean;
}

export function newToolResult(tool: string): ToolResult {
  return { tool, scenarios: {}, repositoryBytes: {} };
}

function scenario(step: StepResult, bytes: number): ScenarioResult {
  return {
    wallSeconds: step.wallSeconds, bytes, peakRssBytes: step.peakRssBytes, cpuSeconds: step.cpuSeconds,
    ...(step.wireBytes === undefined ? {} : { wireBytes: step.wireBytes }),
  };
}

async function repositoryBytes(runner: ToolRunner): Promise<number> {
  if (runner.repositoryBytes !== undefined) return runner.repositoryBytes();
  return (await treeSize(runner.repositoryPath)).diskBytes;
}

/**
 * Writes every dirty page back before a measured step, so no tool pays for the write-back of
 * what the previous tool (or step) wrote: without it, the tool that ran after two others was
 * up to 30 % slower here than alone.
 */
async function settle(): Promise<void> {
  await runQuiet('sync', []);
}

/** Runs the steps in order; the first failure is recorded and ends this tool's run. */
async function guarded(result: ToolResult, steps: () => Promise<void>): Promise<void> {
  if (result.error !== undefined || result.missing !== undefined) return;
  try {
    await steps();
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
  }
}

/** Generation 1: init, then A and B on the same corpus. */
export async function runGenerationOne(runner: ToolRunner, result: ToolResult, corpusBytes: number, log: (line: string) => void): Promise<void> {
  await guarded(result, async () => {
    await runner.init();
    for (const name of ['A', 'B'] as const) {
      await settle();
      const step = await runner.backup();
      result.scenarios[name] = scenario(step, corpusBytes);
      result.repositoryBytes[name] = await repositoryBytes(runner);
      log(`${runner.name} ${name} (${scenarioTitles[name]}): ${step.wallSeconds.toFixed(2)} s`);
    }
  });
}

/**
 * Generation 2: C, then D into `restoreTarget`, compared with the expected manifest. The caller
 * removes the restored trees once every tool has restored: ext4 skips inodes freed in the last
 * minutes when it allocates new ones, so deleting one tool's 40,000 restored files made the next
 * tool's restore spend most of its time in the kernel's inode allocator (perf: recently_deleted,
 * find_inode_bit; up to twice the wall time for whichever tool came next).
 */
export async function runGenerationTwo(
  runner: ToolRunner,
  result: ToolResult,
  corpusBytes: number,
  expected: Map<string, string>,
  restoreTarget: string,
  log: (line: string) => void,
): Promise<void> {
  await guarded(result, async () => {
    await settle();
    const backup = await runner.backup();
    result.scenarios.C = scenario(backup, corpusBytes);
    result.repositoryBytes.C = await repositoryBytes(runner);
    log(`${runner.name} C (${scenarioTitles.C}): ${backup.wallSeconds.toFixed(2)} s`);

    const differences = await restoreAndCompare(runner, result, 'D', corpusBytes, expected, restoreTarget, log);
    result.restoreVerified = differences.length === 0;
    if (differences.length > 0) throw new CorruptError(`${runner.name} restore differs from the corpus:\n  ${differences.join('\n  ')}`);
  });
}

/**
 * E and F on their own corpus and a fresh repository: a first backup, then a restore into
 * `restoreTarget` compared with the corpus. The same runner (for cpsbackup, one server process)
 * serves both, so F's peaks include whatever E left in the server.
 */
export async function runManyFiles(
  runner: ToolRunner,
  result: ToolResult,
  corpusBytes: number,
  expected: Map<string, string>,
  restoreTarget: string,
  log: (line: string) => void,
): Promise<void> {
  await guarded(result, async () => {
    await runner.init();
    await settle();
    const backup = await runner.backup();
    result.scenarios.E = scenario(backup, corpusBytes);
    log(`${runner.name} E (${scenarioTitles.E}): ${backup.wallSeconds.toFixed(2)} s`);
    const differences = await restoreAndCompare(runner, result, 'F', corpusBytes, expected, restoreTarget, log);
    if (differences.length > 0) throw new CorruptError(`${runner.name} restore of the many-files corpus differs:\n  ${differences.join('\n  ')}`);
  });
}

/** A measured restore into a fresh folder, then the differences between what came back and the corpus. */
async function restoreAndCompare(runner: ToolRunner, result: ToolResult, name: 'D' | 'F', corpusBytes: number,
  expected: Map<string, string>, restoreTarget: string, log: (line: string) => void): Promise<string[]> {
  await mkdir(restoreTarget, { recursive: true });
  await settle();
  const restore = await runner.restore(restoreTarget);
  result.scenarios[name] = scenario(restore, corpusBytes);
  log(`${runner.name} ${name} (${scenarioTitles[name]}) into ${restoreTarget}: ${restore.wallSeconds.toFixed(2)} s`);
  return compareManifests(expected, await treeManifest(restore.restoredRoot));
}
