// Starts a throwaway PostgreSQL 15 cluster for tests, listening only on a unix socket in its
// own temp folder; as root it runs as the `postgres` system user, since initdb refuses root.
import { execFile, type ExecFileOptions } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
export const POSTGRES_BIN = '/usr/lib/postgresql/15/bin';
const PORT = 5432; // only names the socket file; nothing listens on TCP

export interface PostgresServer {
  readonly socketDirectory: string;
  readonly port: number;
  /** Connection options for psql, pg_dump, pg_restore: `-h <socket dir> -p <port> -U postgres`. */
  readonly connection: string;
  psql(database: string, sql: string): Promise<string>;
  stop(): Promise<void>;
}

/** Why the suite cannot run here, or undefined when it can. */
export function postgresSkipReason(): string | undefined {
  for (const tool of ['initdb', 'pg_ctl', 'postgres', 'psql', 'pg_dump', 'pg_restore']) {
    try {
      accessSync(join(POSTGRES_BIN, tool), constants.X_OK);
    } catch {
      return `PostgreSQL 15 not installed (${join(POSTGRES_BIN, tool)} missing; run scripts/install-databases.sh)`;
    }
  }
  if (process.getuid?.() === 0 && serverUser() === undefined) return 'running as root and there is no postgres system user';
  return undefined;
}

function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return { uid: userInfo().uid, gid: userInfo().gid };
  try {
    const passwd = readFileSync('/etc/passwd', 'utf8');
    const line = passwd.split('\n').find((entry) => entry.startsWith('postgres:'));
    if (line === undefined) return undefined;
    const [, , uid, gid] = line.split(':');
    return { uid: Number(uid), gid: Number(gid) };
  } catch {
    return undefined;
  }
}

export interface PostgresOptions {
  /** Roles other than postgres must log in with a password (scram-sha-256); postgres stays trusted. */
  readonly passwordAuth?: boolean;
}

export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const user = serverUser();
  if (user === undefined) throw new Error('no user to run PostgreSQL as');
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-pg-'));
  const data = join(folder, 'data');
  const asServer: ExecFileOptions = { uid: user.uid, gid: user.gid, cwd: folder, env: { ...process.env, LC_ALL: 'C' } };
  let isStarted = false;
  try {
    await chown(folder, user.uid, user.gid);
    await execFileAsync(join(POSTGRES_BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], asServer);
    if (options.passwordAuth) {
      const hba = join(data, 'pg_hba.conf');
      await writeFile(hba, 'local all postgres trust\nlocal all all scram-sha-256\n');
      await chown(hba, user.uid, user.gid);
    }
    const serverOptions = `-c listen_addresses='' -c unix_socket_directories=${folder} -p ${PORT} -c fsync=off`;
    await execFileAsync(join(POSTGRES_BIN, 'pg_ctl'), ['-D', data, '-l', join(folder, 'server.log'), '-o', serverOptions, '-w', '-t', '60', 'start'], asServer);
    isStarted = true;
  } catch (error) {
    await rm(folder, { recursive: true, force: true });
    throw error;
  }
  const connection = `-h ${folder} -p ${PORT} -U postgres`;
  return {
    socketDirectory: folder,
    port: PORT,
    connection,
    psql: async (database, sql) => {
      const { stdout } = await execFileAsync(join(POSTGRES_BIN, 'psql'), [
        '-h', folder, '-p', String(PORT), '-U', 'postgres', '-d', database, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql,
      ]);
      return stdout.toString().trim();
    },
    stop: async () => {
      if (isStarted) {
        isStarted = false;
        await execFileAsync(join(POSTGRES_BIN, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], asServer).catch(() => undefined);
      }
      await rm(folder, { recursive: true, force: true });
    },
  };
}

/** A throwaway server and a temporary folder for one test, both gone after it. */
export async function withPostgresServer(prefix: string, run: (server: PostgresServer, folder: string) => Promise<void>,
  options: PostgresOptions = {}): Promise<void> {
  const folder = await mkdtemp(join(tmpdir(), prefix));
  let server: PostgresServer | undefined;
  try {
    server = await startPostgres(options);
    await run(server, folder);
  } finally {
    await server?.stop();
    await rm(folder, { recursive: true, force: true });
  }
}
