// Regression: a stdout whose reader went away (`cpsbackup -i 7 | grep -m1 Restored`, `-e | head -1`,
// `daemon | tee` losing tee) made the process exit 0 at its next line, whatever was left to do: the rest
// of a partial chain's restores and loads, the post script, the daemon's jobs. Only a listing may end so.
// Through the real CLI and server, each with the reading end of its stdout closed before it starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Sandbox, type CommandResult } from './support/sandbox';

const CLI = resolve(__dirname, '..', 'src', 'cli', 'cpsbackup.js');

interface Started {
  readonly child: ChildProcess;
  readonly stderr: () => string;
  readonly ended: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The CLI with its stdout a pipe nobody reads any more: the first line it writes meets EPIPE. */
function startWithoutReader(args: readonly string[]): Started {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.destroy();
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.on('close', (code, signal) => done({ code, signal })));
  return { child, stderr: () => stderr, ended };
}

function exited(result: CommandResult, code: number, what: string): CommandResult {
  assert.equal(result.code, code, `${what} exited ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

async function markerScript(root: string, name: string, marker: string): Promise<string> {
  const script = join(root, name);
  await writeFile(script, `#!/bin/sh\nsleep 0.5\necho "$1 $2 $CPSBACKUP_EXIT_CODE" >> '${marker}'\n`);
  await chmod(script, 0o755);
  return script;
}

test('a restore of a partial chain whose reader left restores and loads every link, runs its post script, exits 3 for the failed load', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  await sandbox.startServer();
  const log = join(sandbox.root, 'loads.log');
  const generationFile = join(sandbox.root, 'generation');
  const storage = join(sandbox.root, 'storage.conf');
  // The last partial's load fails: the restore earns exit 3, never the 0 a lost reader used to give.
  await writeFile(storage, ['source = app', 'kind = command',
    `dump = echo "complete $(cat ${generationFile})"`, `load = sh -c 'cat >> ${log}'`,
    `dump_partial = echo "partial $(cat ${generationFile}) since {since}" | cut -d" " -f1,2`,
    `load_partial = sh -c 'sleep 0.3; cat >> ${log}; ! grep -q "partial 3" ${log}'`, ''].join('\n'));
  const marker = join(sandbox.root, 'post.log');
  const post = await markerScript(sandbox.root, 'post.sh', marker);
  const config = await sandbox.writeNodeConfig('node1', [`storage_conf = ${storage}`, `restore_script_post = ${post}`]);
  for (const [generation, args] of [[1, ['-e']], [2, ['-e', '--partial']], [3, ['-e', '--partial']]] as const) {
    await writeFile(generationFile, `${generation}\n`);
    exited(await sandbox.runClient(['-c', config, ...args]), 0, args.join(' '));
  }

  const restore = startWithoutReader(['-c', config, '-i']);
  const { code, signal } = await restore.ended;
  assert.equal(code, 3, `exit ${code ?? signal}\n${restore.stderr()}`);
  assert.equal(await readFile(log, 'utf8'), 'complete 1\npartial 2\npartial 3\n', 'every link of the chain was loaded');
  assert.match(restore.stderr(), /error: load of app failed/);
  assert.equal(await readFile(marker, 'utf8'), 'post 0 3\n', 'the post script ran, told exit 3');
});

test('-e whose reader left runs its post script and exits 3 for the include it could not back up', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  await sandbox.startServer();
  const data = join(sandbox.root, 'data');
  await mkdir(join(data, 'y'), { recursive: true });
  await writeFile(join(data, 'kept.txt'), 'kept\n');
  const marker = join(sandbox.root, 'post.log');
  const post = await markerScript(sandbox.root, 'post.sh', marker);
  // An include that exclude_regex matches: the backup is kept, incomplete (exit 3).
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`, 'exclude_regex = /y(/|$)', `include = ${join(data, 'y')}`,
    `backup_script_post = ${post}`]);
  const backup = startWithoutReader(['-c', config, '-e']);
  const { code, signal } = await backup.ended;
  assert.equal(code, 3, `exit ${code ?? signal}\n${backup.stderr()}`);
  assert.equal(await readFile(marker, 'utf8'), 'post 0 3\n', 'the post script ran, told exit 3');
  assert.match(exited(await sandbox.runClient(['-c', config, '-l']), 0, '-l').stdout, /^Backup: 0000001 /);
});

test('the daemon whose stdout reader left goes on running its jobs, and stops on SIGTERM with 0', async (t) => {
  const sandbox = await Sandbox.create();
  let daemon: Started | undefined;
  t.after(async () => {
    if (daemon?.child.exitCode === null && daemon.child.signalCode === null) daemon.child.kill('SIGKILL');
    await sandbox.destroy();
  });
  await sandbox.startServer();
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'notes.txt'), 'kept by the daemon\n');
  const logFile = join(sandbox.root, 'daemon.log');
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`, 'schedule_complete = * * * * * *', `log_file = ${logFile}`]);
  daemon = startWithoutReader(['daemon', '-c', config]);
  const committed = async (): Promise<number> => (await readFile(logFile, 'utf8').catch(() => '')).match(/complete: backup \d+ committed/g)?.length ?? 0;
  const deadline = Date.now() + 90_000;
  // Its info lines (daemon started, started, committed) all go to the closed stdout.
  while (await committed() < 3) {
    assert.ok(daemon.child.exitCode === null, `the daemon exited ${daemon.child.exitCode}:\n${await readFile(logFile, 'utf8').catch(() => '')}${daemon.stderr()}`);
    assert.ok(Date.now() < deadline, `gave up waiting for three backups:\n${await readFile(logFile, 'utf8').catch(() => '')}`);
    await sleep(100);
  }
  daemon.child.kill('SIGTERM');
  const { code, signal } = await daemon.ended;
  assert.equal(code, 0, `exit ${code ?? signal}\n${daemon.stderr()}`);
  assert.match(await readFile(logFile, 'utf8'), /info stopped/);
});
