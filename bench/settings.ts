// Reads the benchmark's knobs from the environment (BENCH_*) into one frozen settings object.
// A bad value is a ConfigError naming the variable, before any work starts.
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError } from '../src/common/errors';

// cpsbackup-wire: cpsbackup again on its own store, through a proxy that counts the bytes on the
// wire (kept apart so the proxy's cost never shows in cpsbackup's own times).
// restic-s3, cpsbackup-s3: the same tools with their repository in a bucket of a throwaway Ceph RGW
// (BENCH_STORE=s3 starts it), each in its own bucket; A to D only.
export const toolNames = ['restic', 'borg', 'cpsbackup', 'cpsbackup-wire', 'restic-s3', 'cpsbackup-s3'] as const;
export type ToolName = (typeof toolNames)[number];
const localToolNames: readonly ToolName[] = ['restic', 'borg', 'cpsbackup', 'cpsbackup-wire'];
/** BENCH_STORE=s3 without BENCH_TOOLS: the local-folder runs and the RGW runs side by side, in one run. */
const s3ToolNames: readonly ToolName[] = ['restic', 'cpsbackup', 'restic-s3', 'cpsbackup-s3'];

export function isBucketTool(name: string): boolean {
  return name.endsWith('-s3');
}

export interface BenchSettings {
  readonly sizeMiB: number;
  readonly seed: number;
  readonly tools: readonly ToolName[];
  /** s3: start a single-node Ceph RGW for the -s3 tools (BENCH_STORE=s3); local: no bucket. */
  readonly store: 'local' | 's3';
  /** Parent of the run's work folder (corpus, repositories, and the restores unless restoreParent is set). */
  readonly workParent: string;
  /**
   * Parent of the restores of D and F; undefined puts them in the work folder. A tmpfs (/dev/shm) takes
   * the filesystem out of the restore figures: on this machine's ext4, creating files soon after many were
   * deleted walks the recently freed inodes (recently_deleted in perf) and made a restore up to 3.7× slower.
   */
  readonly restoreParent: string | undefined;
  readonly keepWork: boolean;
  readonly borgEncryption: string;
  readonly resultsDirectory: string;
  readonly projectRoot: string;
  /** Extra node flags for cpsbackup's server and client, e.g. --cpu-prof (NODE_OPTIONS refuses it). */
  readonly cpsbackupNodeArgs: readonly string[];
  /** Extra server.conf lines for cpsbackup, e.g. a chunk size to compare. */
  readonly cpsbackupServerLines: readonly string[];
  /** node.conf `chunking` for cpsbackup; undefined keeps the client's default. */
  readonly cpsbackupChunking: 'client' | 'server' | undefined;
  /** Rounds of A–D, each on a fresh corpus and repositories, the tools in a rotated order; the table shows medians. */
  readonly rounds: number;
  /** Small files of the E/F corpus; 0 skips E and F. */
  readonly manyFiles: number;
  readonly manyLargeMiB: number;
}

function positiveNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, isInteger: boolean): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || (isInteger && !Number.isInteger(value))) {
    throw new ConfigError(name, undefined, `must be a positive ${isInteger ? 'integer' : 'number'}, got "${raw}"`);
  }
  return value;
}

function count(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new ConfigError(name, undefined, `must be a whole number ≥ 0, got "${raw}"`);
  return value;
}

export function readSettings(env: NodeJS.ProcessEnv, projectRoot: string): BenchSettings {
  const store = env.BENCH_STORE ?? '';
  if (!['', 'local', 's3'].includes(store)) throw new ConfigError('BENCH_STORE', undefined, `must be local or s3, got "${store}"`);
  const tools = (env.BENCH_TOOLS ?? (store === 's3' ? s3ToolNames : localToolNames).join(','))
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  for (const name of tools) {
    if (!(toolNames as readonly string[]).includes(name)) throw new ConfigError('BENCH_TOOLS', undefined, `unknown tool "${name}" (known: ${toolNames.join(', ')})`);
    if (isBucketTool(name) && store !== 's3') throw new ConfigError('BENCH_TOOLS', undefined, `${name} needs BENCH_STORE=s3 (it starts the Ceph RGW)`);
  }
  const encryption = env.BENCH_BORG_ENCRYPTION ?? 'none';
  if (!['none', 'repokey', 'repokey-blake2', 'authenticated', 'authenticated-blake2'].includes(encryption)) {
    throw new ConfigError('BENCH_BORG_ENCRYPTION', undefined, `unsupported borg encryption "${encryption}"`);
  }
  const chunking = env.BENCH_CHUNKING ?? '';
  if (!['', 'client', 'server'].includes(chunking)) throw new ConfigError('BENCH_CHUNKING', undefined, `must be client or server, got "${chunking}"`);
  return Object.freeze({
    sizeMiB: positiveNumber(env, 'BENCH_SIZE_MIB', 1024, false),
    seed: positiveNumber(env, 'BENCH_SEED', 1, true),
    tools: Object.freeze(tools as ToolName[]),
    store: store === 's3' ? 's3' : 'local',
    workParent: resolve(env.BENCH_WORK_DIR || tmpdir()),
    restoreParent: env.BENCH_RESTORE_DIR ? resolve(env.BENCH_RESTORE_DIR) : undefined,
    keepWork: env.BENCH_KEEP === '1',
    borgEncryption: encryption,
    resultsDirectory: resolve(env.BENCH_RESULTS_DIR || join(projectRoot, 'bench', 'results')),
    projectRoot,
    cpsbackupNodeArgs: Object.freeze((env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter((arg) => arg !== '')),
    cpsbackupServerLines: Object.freeze((env.BENCH_SERVER_CONF ?? '').split(';').map((line) => line.trim()).filter((line) => line !== '')),
    cpsbackupChunking: chunking === '' ? undefined : chunking as 'client' | 'server',
    rounds: positiveNumber(env, 'BENCH_ROUNDS', 1, true),
    manyFiles: count(env, 'BENCH_MANY_FILES', 100_000),
    manyLargeMiB: count(env, 'BENCH_MANY_LARGE_MIB', 1024),
  });
}
