// Regression: SIGTERM 3 s into a backup made the server exit 1-2 s later and the backup fail (RST_STREAM,
// ECONNRESET), nothing in the log but "stopping after running calls end". stop() closed the listener first,
// whose injector.destroy() closed grpc-js's sessions, and grpc-js's tryShutdown then took them for closed and
// called back at once: the store was closed under the running backup and the process exited.
// Proves, with the real server process: a SIGTERM lets a running backup finish and commit, refuses new calls
// as "stopping", and exits 0 with a "stopped" line; past stop_timeout the backup is cut, named in the log,
// nothing of it is committed, and the store checks clean.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox, type CommandResult, type SandboxServer } from './support/sandbox';
import { assertCheckClean, listedNumbers, waitForLog, waitUntil } from './support/fault-tools';

/**
 * A FIFO whose writer sends 4 MiB, then waits for release() before it sends 1 MiB more and ends: a backup
 * reading it cannot finish before release(), however fast the machine.
 */
async function gatedFifo(t: TestContext, folder: string): Promise<{ release(): Promise<void> }> {
  const fifo = join(folder, 'stream.fifo');
  const gate = join(folder, '..', 'gate-open');
  execFileSync('mkfifo', [fifo]);
  const writer: ChildProcess = spawn('sh', ['-c',
    `exec > '${fifo}'; head -c 4194304 /dev/urandom; while [ ! -e '${gate}' ]; do sleep 0.05; done; head -c 1048576 /dev/urandom`], { stdio: ['ignore', 'ignore', 'inherit'] });
  t.after(() => {
    if (writer.exitCode === null && writer.signalCode === null) writer.kill('SIGKILL');
  });
  return { release: () => writeFile(gate, '') };
}

/** The number of node1's running backup once the server has begun it (the status port's `running.id`), else undefined. */
async function runningBackupId(server: SandboxServer): Promise<number | undefined> {
  const url = /status on (http:\/\/\S+)/.exec(server.log())?.[1];
  assert.ok(url !== undefined, `no status URL in the server's output:\n${server.log()}`);
  const report = await (await fetch(`${url}/status`)).json() as { clients: { name: string; running: { id: number | null } | null }[] };
  return report.clients.find((client) => client.name === 'node1')?.running?.id ?? undefined;
}

/** Starts `cpsbackup -e` and waits until the server runs its backup; fails loudly if it ended before. */
async function backupUnderWay(sandbox: Sandbox, server: SandboxServer, config: string): Promise<{ backupId: number; result: Promise<CommandResult> }> {
  let ended: CommandResult | undefined;
  const result = sandbox.runClient(['-c', config, '-e']).then((outcome) => { ended = outcome; return outcome; });
  let backupId: number | undefined;
  await waitUntil(async () => {
    assert.equal(ended, undefined, `the backup ended before the server was signalled; this test proves nothing:\n${JSON.stringify(ended)}`);
    backupId = await runningBackupId(server);
    return backupId !== undefined;
  }, 'the server to begin node1\'s backup', 60_000, server.log);
  return { backupId: backupId!, result };
}

interface Setting {
  readonly sandbox: Sandbox;
  readonly server: SandboxServer;
  readonly config: string;
  release(): Promise<void>;
  /** Starts the server again (on another port) and points node1's config at it. */
  restart(): Promise<SandboxServer>;
}

async function setUp(t: TestContext, serverLines: readonly string[]): Promise<Setting> {
  const sandbox = await Sandbox.create({ serverLines, clients: ['node1', 'node2'] });
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'notes.txt'), 'kept\n');
  const gate = await gatedFifo(t, data);
  const server = await sandbox.startServer();
  const nodeLines = [`include = ${data}`, 'read_all_fifos = 1'];
  const config = await sandbox.writeNodeConfig('node1', nodeLines);
  const restart = async (): Promise<SandboxServer> => {
    const restarted = await sandbox.startServer();
    await sandbox.writeNodeConfig('node1', nodeLines);
    return restarted;
  };
  return { sandbox, server, config, release: gate.release, restart };
}

test('SIGTERM during a backup lets it finish and commit, refuses new calls meanwhile, and exits 0 with a "stopped" line', async (t) => {
  const { sandbox, server, config, release, restart } = await setUp(t, []);
  const { backupId, result } = await backupUnderWay(sandbox, server, config);
  const exited = once(server.process, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  server.process.kill('SIGTERM');
  await waitForLog(server, new RegExp(`stopping: waiting for 1 running call .*: backup ${backupId} of client node1`), 'the stop to name the backup it waits for');

  // A new call is told why, so that the client tries again later instead of doubting its certificates.
  const refused = await sandbox.runClient(['-c', config, '-l']);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /the server is stopping \(SIGTERM\) and takes no new calls: try again once it is back/);
  // Another node's backup is refused alike, said once: its failure report meets the same refusal (review).
  const other = await sandbox.runClient(['-c', await sandbox.writeNodeConfig('node2', [`include = ${join(sandbox.root, 'data')}`]), '-e']);
  assert.equal(other.code, 1, other.stderr);
  assert.equal(other.stderr.match(/the server is stopping/g)?.length, 1, other.stderr);
  // The status port says so meanwhile: the page, /status, /metrics and `cpsbackup-server status`.
  const url = /status on (http:\/\/\S+)/.exec(server.log())![1];
  const report = await (await fetch(`${url}/status`)).json() as { stopping: { since: string; reason: string; runningCalls: number } | null };
  assert.equal(report.stopping?.reason, 'SIGTERM');
  assert.equal(report.stopping?.runningCalls, 1);
  assert.ok(Date.now() - Date.parse(report.stopping.since) < 60_000, report.stopping.since);
  assert.match(await (await fetch(`${url}/metrics`)).text(), /^cpsbackup_stopping 1$/m);
  const statusCommand = await sandbox.runServerCommand(['status', '--url', url]);
  assert.match(statusCommand.stdout, /^stopping for \d+s \(SIGTERM\): takes no new call, waits for 1 running call \(stop_timeout\)$/m, statusCommand.stdout + statusCommand.stderr);

  await release();
  const backup = await result;
  assert.equal(backup.code, 0, `the backup failed:\n${backup.stdout}${backup.stderr}`);
  assert.match(backup.stdout, new RegExp(`Backup 0*${backupId} done`));
  const [code, signal] = await exited;
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, server.log());
  assert.match(server.log(), new RegExp(`backup ${backupId} of node1 committed`));
  assert.match(server.log(), /stopped after [\d.]+ s \(waited for 1 running call, none cut\); the store is closed/);
  await server.stop();

  const restarted = await restart();
  assert.deepEqual(await listedNumbers(sandbox, config), [backupId]);
  await restarted.stop();
  await assertCheckClean(sandbox);
});

test('past stop_timeout the running backup is cut, named in the log, and nothing of it is committed', async (t) => {
  const { sandbox, server, config, release, restart } = await setUp(t, ['stop_timeout = 1']);
  const { backupId, result } = await backupUnderWay(sandbox, server, config);
  const exited = once(server.process, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  server.process.kill('SIGTERM');
  const [code, signal] = await exited;
  // The client ends once its read of the FIFO returns (it does not exit under a read that blocks).
  await release();
  const backup = await result;
  assert.equal(backup.code, 1, backup.stdout);
  assert.match(backup.stderr, /the server stopped before this call finished \(stop_timeout = 1 s passed since it was asked to stop\); a backup is not committed, a restore not complete/);
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, server.log());
  assert.match(server.log(), new RegExp(`stopping: stop_timeout = 1 s passed since it was asked to stop: cutting backup ${backupId} of client node1 \\(running for \\d+ s\\)`));
  assert.match(server.log(), new RegExp(`stopped after [\\d.]+ s \\(waited for 1 running call, cut 1: backup ${backupId} of client node1\\); the store is closed`));
  await server.stop();

  const restarted = await restart();
  assert.deepEqual(await listedNumbers(sandbox, config), []);
  assert.doesNotMatch(restarted.log(), /recovered the store/, 'the cut backup was dropped by the stop, not left for recovery');
  await restarted.stop();
  await assertCheckClean(sandbox);
});
