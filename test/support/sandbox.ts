// A self-contained cpsbackup installation in one folder: CA and certificates, server.conf, client
// records and node configs, and the server as a real child process, for the end-to-end tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initCertificateAuthority, issueClientCertificate, issueServerCertificate } from '../../src/ca/ca';

const DIST_CLI = resolve(__dirname, '..', '..', 'src', 'cli');

export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface SandboxServer {
  readonly port: number;
  readonly process: ChildProcess;
  readonly log: () => string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface SandboxOptions {
  /** Extra server.conf lines (key = value). */
  readonly serverLines?: readonly string[];
  readonly clients?: readonly string[];
}

export class Sandbox {
  private server: SandboxServer | undefined;

  private constructor(readonly root: string, private readonly options: SandboxOptions) {}

  static async create(options: SandboxOptions = {}): Promise<Sandbox> {
    const root = await mkdtemp(join(tmpdir(), 'cpsbackup-'));
    const sandbox = new Sandbox(root, options);
    await sandbox.initialise();
    return sandbox;
  }

  get sslDirectory(): string { return join(this.root, 'ssl'); }
  get storeDirectory(): string { return join(this.root, 'store'); }
  get serverConfigFile(): string { return join(this.root, 'server.conf'); }
  get clientsDirectory(): string { return join(this.root, 'clients'); }

  private async initialise(): Promise<void> {
    await initCertificateAuthority(this.sslDirectory);
    await issueServerCertificate(this.sslDirectory, 'localhost');
    await mkdir(this.clientsDirectory, { recursive: true });
    for (const client of this.options.clients ?? ['node1']) await this.addClient(client);
    await writeFile(this.serverConfigFile, [
      'address = 127.0.0.1', 'port = 0', 'status_address = 127.0.0.1', 'status_port = 0',
      `directory = ${this.storeDirectory}`, `clientconfdir = ${this.clientsDirectory}`,
      // keep repeats (burp's levels), so a default would turn a test's keep=2 into keep=[10,2].
      ...((this.options.serverLines ?? []).some((line) => /^\s*keep\s*=/.test(line)) ? [] : ['keep = 10']),
      `ssl_cert = ${join(this.sslDirectory, 'server.pem')}`, `ssl_key = ${join(this.sslDirectory, 'server.key')}`,
      `ssl_ca = ${join(this.sslDirectory, 'ca.pem')}`, ...(this.options.serverLines ?? []), '',
    ].join('\n'));
  }

  /** Issues a certificate for the client and registers it with the server (clients/<name>). */
  async addClient(name: string, recordLines: readonly string[] = []): Promise<void> {
    await issueClientCertificate(this.sslDirectory, name);
    await writeFile(join(this.clientsDirectory, name), [`ssl_peer_cn = ${name}`, ...recordLines, ''].join('\n'));
  }

  async rewriteServerConfig(lines: readonly string[]): Promise<void> {
    const base = [
      'address = 127.0.0.1', 'port = 0', 'status_address = 127.0.0.1', 'status_port = 0',
      `directory = ${this.storeDirectory}`, `clientconfdir = ${this.clientsDirectory}`,
      `ssl_cert = ${join(this.sslDirectory, 'server.pem')}`, `ssl_key = ${join(this.sslDirectory, 'server.key')}`,
      `ssl_ca = ${join(this.sslDirectory, 'ca.pem')}`,
    ];
    await writeFile(this.serverConfigFile, [...base, ...lines, ''].join('\n'));
  }

  /** Writes <root>/<client>.conf for the running server; returns its path. */
  async writeNodeConfig(client: string, lines: readonly string[]): Promise<string> {
    if (!this.server) throw new Error('start the server first: node configs need its port');
    const file = join(this.root, `${client}.conf`);
    await mkdir(join(this.root, 'work', client), { recursive: true });
    await writeFile(file, [...nodeConfigLines(this, client, this.server.port), ...lines, ''].join('\n'));
    return file;
  }

  async startServer(extraArgs: readonly string[] = []): Promise<SandboxServer> {
    if (this.server) throw new Error('server already running');
    const child = spawn(process.execPath, [join(DIST_CLI, 'cpsbackup-server.js'), '-c', this.serverConfigFile, ...extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr!.on('data', (data: Buffer) => { output += data.toString(); });
    const port = await new Promise<number>((resolvePort, reject) => {
      let stdout = '';
      child.stdout!.on('data', (data: Buffer) => {
        stdout += data.toString();
        output += data.toString();
        const match = /listening on [^\s]+:(\d+)/.exec(stdout);
        if (match) resolvePort(Number(match[1]));
      });
      child.once('exit', (code, signal) => reject(new Error(`server exited (${code ?? signal}) before listening:\n${output}`)));
    });
    const exited = new Promise<void>((resolveExit) => {
      if (child.exitCode !== null || child.signalCode !== null) resolveExit();
      else child.once('exit', () => resolveExit());
    });
    const server: SandboxServer = {
      port,
      process: child,
      log: () => output,
      stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        await exited;
        if (this.server === server) this.server = undefined;
      },
    };
    this.server = server;
    return server;
  }

  get runningServer(): SandboxServer | undefined {
    return this.server;
  }

  /**
   * Runs the cpsbackup CLI as a real process. `isWithoutPermissionBypass`: as root without the capability
   * to bypass file permissions (setpriv), so a 000 file is unreadable for real; see canDropPermissionBypass.
   * `preload`: a library the client runs with (LD_PRELOAD), to make a system call fail for real;
   * `environment`: variables set for the client besides (what such a library reads).
   */
  runClient(args: readonly string[], options: {
    timeoutMs?: number; isWithoutPermissionBypass?: boolean; preload?: string; environment?: Readonly<Record<string, string>>;
    /** Run as root of a new user namespace that maps only the caller: chown to any other id fails (EINVAL). */
    isInUserNamespace?: boolean;
    /** Capabilities taken from the bounding set (setpriv's names, e.g. 'linux_immutable'): root without them. */
    droppedCapabilities?: readonly string[];
  } = {}): Promise<CommandResult> {
    const variables = [
      ...(options.preload === undefined ? [] : [`LD_PRELOAD=${options.preload}`]),
      ...Object.entries(options.environment ?? {}).map(([name, value]) => `${name}=${value}`),
    ];
    const launcher = [
      ...(variables.length === 0 ? [] : ['env', ...variables]),
      ...(options.isWithoutPermissionBypass ? ['setpriv', '--bounding-set=-dac_override,-dac_read_search'] : []),
      ...(options.droppedCapabilities === undefined ? [] : ['setpriv', `--bounding-set=${options.droppedCapabilities.map((name) => `-${name}`).join(',')}`]),
      ...(options.isInUserNamespace ? ['unshare', '--user', '--map-root-user'] : []),
    ];
    return runNode(join(DIST_CLI, 'cpsbackup.js'), args, options.timeoutMs ?? 120_000, launcher);
  }

  runServerCommand(args: readonly string[]): Promise<CommandResult> {
    return runNode(join(DIST_CLI, 'cpsbackup-server.js'), ['-c', this.serverConfigFile, ...args], 120_000);
  }

  async destroy(): Promise<void> {
    await this.server?.stop();
    await rm(this.root, { recursive: true, force: true });
  }
}

/** A node.conf's connection and folder lines for a client of the sandbox's CA and a server on port. */
export function nodeConfigLines(sandbox: Pick<Sandbox, 'root' | 'sslDirectory'>, client: string, port: number): string[] {
  return [
    'server = 127.0.0.1', `port = ${port}`, 'server_name = localhost',
    `ssl_cert = ${join(sandbox.sslDirectory, 'clients', `${client}.pem`)}`,
    `ssl_key = ${join(sandbox.sslDirectory, 'clients', `${client}.key`)}`,
    `ssl_ca = ${join(sandbox.sslDirectory, 'ca.pem')}`,
    `work_directory = ${join(sandbox.root, 'work', client)}`, `state_directory = ${join(sandbox.root, 'state', client)}`,
  ];
}

/** Dropping the permission bypass needs root; a test relying on an unreadable file skips otherwise. */
export const canDropPermissionBypass = process.geteuid?.() === 0;

/** `launcher`: a command (and its arguments) that runs node, e.g. setpriv. */
export function runNode(script: string, args: readonly string[], timeoutMs: number, launcher: readonly string[] = []): Promise<CommandResult> {
  return new Promise((resolveResult) => {
    const command = [...launcher, process.execPath, script, ...args];
    const child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data: Buffer) => { stdout += data.toString(); });
    child.stderr.on('data', (data: Buffer) => { stderr += data.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    // 'close', not 'exit': after exit the pipes may still hold output not read yet.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolveResult({ code, signal, stdout, stderr });
    });
  });
}
