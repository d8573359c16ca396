// Benchmarks cpsbackup through its real CLIs: CA tool, server (long-running, over TLS) and client.
// The server's peak RSS is read from /proc per scenario (VmHWM, reset through clear_refs). With
// countWire, the client reaches the server through a proxy that counts the bytes each way.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { readCpuSeconds, readPeakRss, resetPeakRss, runMeasured, runQuiet } from '../measure';
import { freePort, startServer, type ServerProcess } from './server-process';
import { ByteCountingProxy } from './byte-counting-proxy';
import { bucketBytes, type BucketTarget } from './bucket-bytes';
import { underTarget, type Probe, type RestoreResult, type RunnerContext, type StepResult, type ToolRunner } from './runner';

const clientName = 'bench';

export interface CpsbackupOptions {
  /** The column this runner's results go under (e.g. `cpsbackup-wire` for the counted run). */
  readonly name?: string;
  readonly projectRoot?: string;
  /** Extra node flags for the server and the client. */
  readonly nodeArgs?: readonly string[];
  /** Extra server.conf lines. */
  readonly serverLines?: readonly string[];
  /** node.conf `chunking`; unset keeps the client's default. */
  readonly chunking?: 'client' | 'server';
  /** Route the client through a byte-counting proxy and report the bytes on the wire per step. */
  readonly countWire?: boolean;
  /** Keep the store in this bucket (storage = s3, a key made by init-key); the size is then the bucket's. */
  readonly bucket?: BucketTarget;
}

/** The project root: this file runs from dist/bench/tools/. */
export function defaultProjectRoot(): string {
  return resolve(__dirname, '..', '..', '..');
}

export class CpsbackupRunner implements ToolRunner {
  readonly name: string;
  readonly repositoryPath: string;
  private readonly cliDirectory: string;
  private server: ServerProcess | undefined;
  private proxy: ByteCountingProxy | undefined;
  private readonly clientConfig: string;
  private readonly nodeArgs: readonly string[];
  readonly repositoryBytes?: () => Promise<number>;

  constructor(private readonly context: RunnerContext, private readonly options: CpsbackupOptions = {}) {
    this.name = options.name ?? 'cpsbackup';
    const bucket = options.bucket;
    if (bucket !== undefined) this.repositoryBytes = () => bucketBytes(bucket);
    this.nodeArgs = options.nodeArgs ?? [];
    this.cliDirectory = join(options.projectRoot ?? defaultProjectRoot(), 'dist', 'src', 'cli');
    this.repositoryPath = join(context.workDirectory, 'store');
    this.clientConfig = join(context.workDirectory, 'client', 'node.conf');
  }

  private cli(name: string): string {
    return join(this.cliDirectory, `${name}.js`);
  }

  async probe(): Promise<Probe> {
    const missing = ['cpsbackup', 'cpsbackup-server', 'cpsbackup-ca'].filter((name) => !existsSync(this.cli(name)));
    if (missing.length > 0) return { missing: `not built: ${missing.map((name) => this.cli(name)).join(', ')}` };
    try {
      const output = await runQuiet(process.execPath, [this.cli('cpsbackup'), '--version']);
      return { version: output.trim() || 'unknown' };
    } catch {
      return { version: 'unknown (no --version)' };
    }
  }

  async init(): Promise<void> {
    const work = this.context.workDirectory;
    const ca = join(work, 'ca');
    const node = process.execPath;
    await runQuiet(node, [this.cli('cpsbackup-ca'), 'init', '--dir', ca]);
    await runQuiet(node, [this.cli('cpsbackup-ca'), 'server', '--dir', ca, '--name', 'localhost']);
    await runQuiet(node, [this.cli('cpsbackup-ca'), 'client', '--dir', ca, clientName]);

    const serverDirectory = join(work, 'server');
    await mkdir(join(serverDirectory, 'clients'), { recursive: true });
    await mkdir(this.repositoryPath, { recursive: true });
    const port = await freePort();
    const statusPort = await freePort();
    const serverConfig = join(serverDirectory, 'server.conf');
    const bucket = this.options.bucket;
    const keyFile = join(serverDirectory, 'store.key');
    if (bucket !== undefined) await runQuiet(node, [this.cli('cpsbackup-server'), 'init-key', keyFile]);
    const bucketLines = bucket === undefined ? [] : [
      'storage=s3', `s3_endpoint=${bucket.endpoint}`, `s3_bucket=${bucket.bucket}`, `s3_credentials_file=${bucket.credentialsFile}`,
      `encryption_key_file=${keyFile}`,
    ];
    await writeFile(
      serverConfig,
      [
        'address=127.0.0.1',
        `port=${port}`,
        'status_address=127.0.0.1',
        `status_port=${statusPort}`,
        `clientconfdir=${join(serverDirectory, 'clients')}`,
        `directory=${this.repositoryPath}`,
        'keep=100',
        `ssl_cert=${join(ca, 'server.pem')}`,
        `ssl_key=${join(ca, 'server.key')}`,
        `ssl_ca=${join(ca, 'ca.pem')}`,
        ...bucketLines,
        ...(this.options.serverLines ?? []),
        '',
      ].join('\n'),
    );
    await writeFile(join(serverDirectory, 'clients', clientName), `ssl_peer_cn=${clientName}\n`);

    this.server = await startServer(node, [...this.nodeArgs, this.cli('cpsbackup-server'), '-c', serverConfig], `listening on 127.0.0.1:${port}`, 60_000, serverDirectory);
    if (this.options.countWire === true) this.proxy = await ByteCountingProxy.start(port);

    const clientDirectory = join(work, 'client');
    await mkdir(join(clientDirectory, 'work'), { recursive: true });
    await mkdir(join(clientDirectory, 'state'), { recursive: true });
    await writeFile(
      this.clientConfig,
      [
        'server=127.0.0.1',
        `port=${this.proxy?.port ?? port}`,
        'server_name=localhost',
        `include=${this.context.corpusRoot}`,
        `ssl_cert=${join(ca, 'clients', `${clientName}.pem`)}`,
        `ssl_key=${join(ca, 'clients', `${clientName}.key`)}`,
        `ssl_ca=${join(ca, 'ca.pem')}`,
        `work_directory=${join(clientDirectory, 'work')}`,
        `state_directory=${join(clientDirectory, 'state')}`,
        ...(this.options.chunking === undefined ? [] : [`chunking=${this.options.chunking}`]),
        '',
      ].join('\n'),
    );
  }

  /** Runs one client command and reports the client's and the server's peak RSS during it. */
  private async clientStep(args: readonly string[]): Promise<StepResult> {
    const server = this.server;
    if (!server) throw new Error('cpsbackup server is not running: init() first');
    await resetPeakRss(server.pid);
    const serverCpuBefore = await readCpuSeconds(server.pid);
    this.proxy?.take();
    const run = await runMeasured(process.execPath, [...this.nodeArgs, this.cli('cpsbackup'), '-c', this.clientConfig, ...args]);
    return {
      ...(this.proxy === undefined ? {} : { wireBytes: this.proxy.take() }),
      wallSeconds: run.wallSeconds,
      peakRssBytes: { client: run.peakRssBytes, server: await readPeakRss(server.pid) },
      // Ticks are hundredths; rounding drops the float noise of the subtraction.
      cpuSeconds: { client: run.cpuSeconds, server: Math.round(((await readCpuSeconds(server.pid)) - serverCpuBefore) * 100) / 100 },
    };
  }

  backup(): Promise<StepResult> {
    return this.clientStep(['-e']);
  }

  async restore(target: string): Promise<RestoreResult> {
    const step = await this.clientStep(['-i', '--to', target]);
    return { ...step, restoredRoot: restoredRootIn(target, this.context.corpusRoot) };
  }

  async close(): Promise<void> {
    await this.proxy?.stop();
    this.proxy = undefined;
    await this.server?.stop();
  }
}

/** The restore layout is not fixed by the CLI contract yet: accept the full path or the bare content. */
export function restoredRootIn(target: string, corpusRoot: string): string {
  const full = underTarget(target, corpusRoot);
  return existsSync(full) ? full : target;
}
