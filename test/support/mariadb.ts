// Starts a throwaway MariaDB server for tests: its own datadir and unix socket in a temp folder,
// no TCP; root may run it with --user=root. Stopped and deleted by stop().
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const TOOLS = { installDb: '/usr/bin/mariadb-install-db', server: '/usr/sbin/mariadbd', client: '/usr/bin/mariadb', dump: '/usr/bin/mariadb-dump', admin: '/usr/bin/mariadb-admin' };
const START_TIMEOUT_MILLISECONDS = 60_000;

export interface MariadbServer {
  readonly socket: string;
  /** Client options for mariadb / mariadb-dump: `--socket=<path> --user=root`. */
  readonly connection: string;
  readonly clientPath: string;
  readonly dumpPath: string;
  query(database: string, sql: string): Promise<string>;
  stop(): Promise<void>;
}

export function mariadbSkipReason(): string | undefined {
  for (const tool of Object.values(TOOLS)) {
    try {
      accessSync(tool, constants.X_OK);
    } catch {
      return `MariaDB not installed (${tool} missing; run scripts/install-databases.sh)`;
    }
  }
  return undefined;
}

export async function startMariadb(): Promise<MariadbServer> {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-maria-'));
  const data = join(folder, 'data');
  const socket = join(folder, 'mysqld.sock');
  const user = process.getuid?.() === 0 ? ['--user=root'] : [];
  let server: ChildProcess | undefined;
  const stop = async (): Promise<void> => {
    if (server !== undefined && server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((resolve) => server?.once('exit', resolve));
      server.kill('SIGKILL'); // a throwaway datadir needs no clean shutdown
      await exited;
    }
    await rm(folder, { recursive: true, force: true });
  };
  // A temporary folder of its own: with the default /tmp, a bootstrap beside other servers and tests
  // once failed deleting its own temp table ("Error on delete of '/tmp/#sql-temptable-…'").
  const temporary = join(folder, 'tmp');
  try {
    await mkdir(temporary);
    await execFileAsync(TOOLS.installDb, [
      `--datadir=${data}`, ...user, '--auth-root-authentication-method=normal', '--skip-test-db', '--skip-name-resolve',
      `--tmpdir=${temporary}`,
    ]);
    server = spawn(TOOLS.server, [
      '--no-defaults', `--datadir=${data}`, `--socket=${socket}`, '--skip-networking', ...user, `--tmpdir=${temporary}`,
      `--pid-file=${join(folder, 'mysqld.pid')}`, `--log-error=${join(folder, 'error.log')}`,
      '--innodb-buffer-pool-size=32M', '--innodb-flush-log-at-trx-commit=0'
    ], { stdio: 'ignore' });
    await waitUntilReady(socket, server);
  } catch (error) {
    await stop();
    throw error;
  }
  const connection = `--socket=${socket} --user=root`;
  return {
    socket,
    connection,
    clientPath: TOOLS.client,
    dumpPath: TOOLS.dump,
    query: async (database, sql) => {
      const { stdout } = await execFileAsync(TOOLS.client, [`--socket=${socket}`, '--user=root', '--batch', '--skip-column-names', `--database=${database}`, '-e', sql]);
      return stdout.toString().trim();
    },
    stop,
  };
}

async function waitUntilReady(socket: string, server: ChildProcess): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MILLISECONDS;
  for (;;) {
    if (server.exitCode !== null || server.signalCode !== null) throw new Error(`mariadbd exited during start (${server.exitCode ?? server.signalCode})`);
    try {
      await execFileAsync(TOOLS.admin, [`--socket=${socket}`, '--user=root', 'ping']);
      return;
    } catch {
      if (Date.now() > deadline) throw new Error('mariadbd did not accept connections within 60 s');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** A throwaway server and a temporary folder for one test, both gone after it. */
export async function withMariadbServer(prefix: string, run: (server: MariadbServer, folder: string) => Promise<void>): Promise<void> {
  const folder = await mkdtemp(join(tmpdir(), prefix));
  let server: MariadbServer | undefined;
  try {
    server = await startMariadb();
    await run(server, folder);
  } finally {
    await server?.stop();
    await rm(folder, { recursive: true, force: true });
  }
}
