// The role every benchmarked backup tool plays: init a repository, back up one folder, restore the latest.
// Callers rely on: backups always cover the same corpus root; restore writes into an empty target.
import { join } from 'node:path';
import type { WireBytes } from './byte-counting-proxy';

export interface StepResult {
  readonly wallSeconds: number;
  /** Peak resident set per process of the step, e.g. { restic } or { client, server }. */
  readonly peakRssBytes: Readonly<Record<string, number>>;
  /** User + system CPU seconds per process of the step. */
  readonly cpuSeconds: Readonly<Record<string, number>>;
  /** Bytes each way between client and server, when a proxy counted them. */
  readonly wireBytes?: WireBytes;
}

export interface RestoreResult extends StepResult {
  /** Where the corpus root's content landed inside the restore target. */
  readonly restoredRoot: string;
}

export type Probe = { readonly version: string } | { readonly missing: string };

export interface ToolRunner {
  readonly name: string;
  /** The tool's version, or why it cannot run here. */
  probe(): Promise<Probe>;
  init(): Promise<void>;
  backup(): Promise<StepResult>;
  restore(target: string): Promise<RestoreResult>;
  /** Folder whose disk usage is the repository size. */
  readonly repositoryPath: string;
  /** The repository size when it is not a local folder (a bucket); repositoryPath is du'd otherwise. */
  repositoryBytes?(): Promise<number>;
  /** Stops anything the runner started; safe to call more than once. */
  close(): Promise<void>;
}

export interface RunnerContext {
  /** Absolute path of the corpus root; the same path for every backup. */
  readonly corpusRoot: string;
  /** An empty folder owned by this runner: repository, caches, configuration. */
  readonly workDirectory: string;
}

/** Tools that store absolute paths restore them under the target, minus the leading slash. */
export function underTarget(target: string, absolutePath: string): string {
  return join(target, absolutePath.replace(/^\/+/, ''));
}
