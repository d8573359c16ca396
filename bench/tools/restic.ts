// Benchmarks restic with a local repository (or, given a bucket, its s3 backend), its cache kept in the
// runner's work folder. Compression (--compression auto) needs restic 0.14+ and a version 2 repository.
import { join } from 'node:path';
import { runMeasured, runQuiet } from '../measure';
import { bucketBytes, type BucketTarget } from './bucket-bytes';
import { underTarget, type Probe, type RestoreResult, type RunnerContext, type StepResult, type ToolRunner } from './runner';

export function parseResticVersion(output: string): [number, number, number] | undefined {
  const match = /restic (\d+)\.(\d+)\.(\d+)/.exec(output);
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : undefined;
}

export class ResticRunner implements ToolRunner {
  readonly name: string;
  readonly repositoryPath: string;
  readonly repositoryBytes?: () => Promise<number>;
  private readonly env: NodeJS.ProcessEnv;
  private hasCompression = false;

  constructor(private readonly context: RunnerContext, bucket?: BucketTarget) {
    this.name = bucket === undefined ? 'restic' : 'restic-s3';
    if (bucket !== undefined) this.repositoryBytes = () => bucketBytes(bucket);
    this.repositoryPath = join(context.workDirectory, 'repository');
    this.env = {
      ...process.env,
      // s3:<endpoint>/<bucket>: restic's s3 backend (minio-go), path-style, on the same gateway as cpsbackup-s3.
      RESTIC_REPOSITORY: bucket === undefined ? this.repositoryPath : `s3:${bucket.endpoint}/${bucket.bucket}`,
      ...(bucket === undefined ? {} : { AWS_ACCESS_KEY_ID: bucket.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: bucket.credentials.secretAccessKey }),
      RESTIC_PASSWORD: 'benchmark',
      RESTIC_CACHE_DIR: join(context.workDirectory, 'cache'),
      HOME: context.workDirectory,
    };
  }

  async probe(): Promise<Probe> {
    try {
      const output = await runQuiet('restic', ['version'], { env: this.env });
      const version = parseResticVersion(output);
      if (!version) return { missing: `unrecognised "restic version" output: ${output.trim()}` };
      this.hasCompression = version[0] > 0 || version[1] >= 14;
      return { version: version.join('.') + (this.hasCompression ? '' : ' (no compression: needs 0.14+)') };
    } catch (error) {
      return { missing: `restic not runnable: ${(error as Error).message}` };
    }
  }

  private compressionArgs(): string[] {
    return this.hasCompression ? ['--compression', 'auto'] : [];
  }

  async init(): Promise<void> {
    await runQuiet('restic', ['init', ...(this.hasCompression ? ['--repository-version', '2'] : [])], { env: this.env });
  }

  async backup(): Promise<StepResult> {
    const run = await runMeasured('restic', ['backup', '--quiet', ...this.compressionArgs(), this.context.corpusRoot], { env: this.env });
    return { wallSeconds: run.wallSeconds, peakRssBytes: { restic: run.peakRssBytes }, cpuSeconds: { restic: run.cpuSeconds } };
  }

  async restore(target: string): Promise<RestoreResult> {
    const run = await runMeasured('restic', ['restore', '--quiet', 'latest', '--target', target], { env: this.env });
    return { wallSeconds: run.wallSeconds, peakRssBytes: { restic: run.peakRssBytes }, cpuSeconds: { restic: run.cpuSeconds }, restoredRoot: underTarget(target, this.context.corpusRoot) };
  }

  async close(): Promise<void> {
    // restic leaves no process behind.
  }
}
