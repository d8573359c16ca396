// Starts a throwaway one-node Ceph cluster with the RADOS Gateway for tests, through the project's
// own scripts/ceph/start.sh, and stops every daemon by PID at the end (scripts/ceph/stop.sh).
import { execFile } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Sandbox } from './sandbox';

const execFileAsync = promisify(execFile);
const scripts = resolve(__dirname, '..', '..', '..', 'scripts', 'ceph');
const tools = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph', 'monmaptool', 'ceph-authtool'];

export interface CephCluster {
  readonly folder: string;
  /** http://127.0.0.1:PORT of the RADOS Gateway. */
  readonly endpoint: string;
  /** An s3_credentials_file (mode 0600) for the cluster's generated user. */
  readonly credentialsFile: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** The radosgw process id, or undefined when it is not running. */
  gatewayPid(): number | undefined;
  /** SIGKILLs radosgw and waits until the process is gone. */
  killGateway(): Promise<void>;
  /**
   * SIGSTOP / SIGCONT radosgw: a gateway that accepts connections and never answers. Resolves once the
   * kernel shows the process stopped (or running again); throws when no radosgw runs, so a fault test
   * can never pass because its fault was not made (a freeze that found no pid was a silent no-op).
   */
  freezeGateway(): Promise<void>;
  thawGateway(): Promise<void>;
  /** Starts radosgw again (on the same port) and waits until it answers HTTP. */
  startGateway(): Promise<void>;
  stop(): Promise<void>;
}

/** Why the Ceph tests cannot run here, or undefined when they can. */
export function cephSkipReason(): string | undefined {
  for (const tool of tools) {
    const found = (process.env.PATH ?? '/usr/bin:/bin').split(':').some((folder) => isExecutable(join(folder, tool)));
    if (!found) return `Ceph is not installed (${tool} missing; scripts/ceph/install.sh installs it as root on Debian)`;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** A port free right now on 127.0.0.1; outside 6800-7300, which the OSD takes its ports from. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolvePort, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolvePort(typeof address === 'object' && address !== null ? address.port : 0));
      });
    });
    if (port !== 0 && (port < 6800 || port > 7300)) return port;
  }
}

/**
 * One retry on new ports and a new folder: a port found free can be taken by someone else before the
 * monitor or the gateway binds it (tests of other files run alongside).
 */
export async function startCeph(): Promise<CephCluster> {
  try {
    return await startCephOnce();
  } catch (error) {
    process.stderr.write(`Ceph start failed once, retrying on other ports: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}\n`);
    return startCephOnce();
  }
}

async function startCephOnce(): Promise<CephCluster> {
  // Admin socket paths are limited to 107 bytes: a short folder right under /tmp, whatever TMPDIR says.
  const folder = await mkdtemp('/tmp/cph-');
  const monPort = await freePort();
  const gatewayPort = await freePort();
  const start = (): Promise<unknown> => execFileAsync('bash', [join(scripts, 'start.sh'), folder, String(monPort), String(gatewayPort)], {
    env: { ...process.env, CEPH_OWNER_PID: String(process.pid) },
    timeout: 300_000,
    killSignal: 'SIGKILL',
  });
  const stop = async (): Promise<void> => {
    await execFileAsync('bash', [join(scripts, 'stop.sh'), folder], { timeout: 120_000 }).catch(() => undefined);
    await rm(folder, { recursive: true, force: true });
  };
  try {
    await start();
  } catch (error) {
    const output = error as { stderr?: string };
    const logs = logTail(folder);
    await stop();
    throw new Error(`Ceph did not start in ${folder}: ${output.stderr ?? String(error)}${logs}`);
  }
  const credentialsFile = join(folder, 'credentials');
  const values = new Map(readFileSync(credentialsFile, 'utf8').split('\n')
    .map((line) => line.split(' = ') as [string, string]).filter((pair) => pair.length === 2));
  const gatewayPid = (): number | undefined => daemonPid(folder, 'client.rgw.gw', 'radosgw');
  return {
    folder,
    endpoint: `http://127.0.0.1:${gatewayPort}`,
    credentialsFile,
    credentials: { accessKeyId: values.get('access_key_id') ?? '', secretAccessKey: values.get('secret_access_key') ?? '' },
    gatewayPid,
    killGateway: async () => {
      const pid = gatewayPid();
      if (pid === undefined) return;
      process.kill(pid, 'SIGKILL');
      while (daemonPid(folder, 'client.rgw.gw', 'radosgw') === pid) await new Promise((done) => setTimeout(done, 50));
    },
    freezeGateway: () => signalGateway(folder, 'SIGSTOP', (state) => state === 'T'),
    thawGateway: () => signalGateway(folder, 'SIGCONT', (state) => state !== 'T'),
    startGateway: async () => {
      await start();
    },
    stop,
  };
}

/** Sends radosgw `signal` and waits (5 s at most) until /proc shows the state `isDone` wants. */
async function signalGateway(folder: string, signal: 'SIGSTOP' | 'SIGCONT', isDone: (state: string | undefined) => boolean): Promise<void> {
  const pid = daemonPid(folder, 'client.rgw.gw', 'radosgw');
  if (pid === undefined) throw new Error(`no running radosgw in ${folder}/run/client.rgw.gw.pid: cannot send it ${signal}`);
  process.kill(pid, signal);
  for (const deadline = Date.now() + 5000; !isDone(processState(pid)); await new Promise((done) => setTimeout(done, 20))) {
    if (Date.now() > deadline) throw new Error(`radosgw ${pid} is in state ${processState(pid) ?? 'gone'} 5 s after ${signal}`);
  }
}

function processState(pid: number): string | undefined {
  try {
    return /\) (\w) /.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

function daemonPid(folder: string, name: string, program: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(folder, 'run', `${name}.pid`), 'utf8').trim());
    // A zombie (killed, not yet reaped by init) is gone for our purposes.
    const state = /\) (\w) /.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === program && state !== 'Z' ? pid : undefined;
  } catch {
    return undefined;
  }
}

function logTail(folder: string): string {
  let text = '';
  for (const name of ['mon.a', 'osd.0', 'client.rgw.gw']) {
    try {
      const lines = readFileSync(join(folder, 'log', `${name}.log`), 'utf8').trim().split('\n');
      text += `\n--- ${name}.log (last lines)\n${lines.slice(-15).join('\n')}`;
    } catch {
      // That daemon never got as far as its log.
    }
  }
  return text;
}

/**
 * A sandbox's server.conf on an encrypted bucket of `cluster` under `prefix` (its key made first), with
 * small chunks and 1 MiB packs so a few files make several packs; `extra` lines after them.
 */
export async function useEncryptedBucket(sandbox: Sandbox, cluster: CephCluster, bucket: string, prefix: string, extra: readonly string[] = []): Promise<void> {
  const made = await sandbox.runServerCommand(['init-key', join(sandbox.root, 'store.key')]);
  if (made.code !== 0) throw new Error(`init-key: ${made.stderr}`);
  await sandbox.rewriteServerConfig([
    'storage = s3', `s3_endpoint = ${cluster.endpoint}`, `s3_bucket = ${bucket}`, `s3_prefix = ${prefix}`,
    `s3_credentials_file = ${cluster.credentialsFile}`, `encryption_key_file = ${join(sandbox.root, 'store.key')}`, 'catalog_snapshot_interval = 0',
    'chunk_min_size = 16384', 'chunk_avg_size = 65536', 'chunk_max_size = 262144', 'pack_size = 1M', ...extra,
  ]);
}
