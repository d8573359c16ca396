// Benchmarks borg with a local unencrypted repository and zstd,3 compression.
// BORG_BASE_DIR and BORG_CACHE_DIR point into the runner's work folder so runs never share a cache.
import { join } from 'node:path';
import { runMeasured, runQuiet } from '../measure';
import { underTarget, type Probe, type RestoreResult, type RunnerContext, type StepResult, type ToolRunner } from './runner';

export class BorgRunner implements ToolRunner {
  readonly name = 'borg';
  readonly repositoryPath: string;
  private readonly env: NodeJS.ProcessEnv;
  private archives = 0;

  constructor(
    private readonly context: RunnerContext,
    private readonly encryption = 'none',
  ) {
    this.repositoryPath = join(context.workDirectory, 'repository');
    this.env = {
      ...process.env,
      BORG_BASE_DIR: context.workDirectory,
      BORG_CACHE_DIR: join(context.workDirectory, 'cache'),
      BORG_CONFIG_DIR: join(context.workDirectory, 'config'),
      BORG_PASSPHRASE: 'benchmark',
      BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
      BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
    };
  }

  async probe(): Promise<Probe> {
    try {
      const output = await runQuiet('borg', ['--version'], { env: this.env });
      const match = /(\d+\.\d+\.\d+\S*)/.exec(output);
      return match ? { version: match[1] } : { missing: `unrecognised "borg --version" output: ${output.trim()}` };
    } catch (error) {
      return { missing: `borg not runnable: ${(error as Error).message}` };
    }
  }

  async init(): Promise<void> {
    await runQuiet('borg', ['init', '--encryption', this.encryption, this.repositoryPath], { env: this.env });
  }

  private latestArchive(): string {
    return `${this.repositoryPath}::backup-${this.archives}`;
  }

  async backup(): Promise<StepResult> {
    this.archives++;
    const run = await runMeasured('borg', ['create', '--compression', 'zstd,3', this.latestArchive(), this.context.corpusRoot], { env: this.env });
    return { wallSeconds: run.wallSeconds, peakRssBytes: { borg: run.peakRssBytes }, cpuSeconds: { borg: run.cpuSeconds } };
  }

  async restore(target: string): Promise<RestoreResult> {
    const run = await runMeasured('borg', ['extract', this.latestArchive()], { env: this.env, cwd: target });
    return { wallSeconds: run.wallSeconds, peakRssBytes: { borg: run.peakRssBytes }, cpuSeconds: { borg: run.cpuSeconds }, restoredRoot: underTarget(target, this.context.corpusRoot) };
  }

  async close(): Promise<void> {
    // borg leaves no process behind.
  }
}
