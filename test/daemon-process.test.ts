// The real `cpsbackup daemon` process on a seconds-level cron against the real server: jobs run,
// a slow dumper makes due runs skip (logged, never overlapped), SIGTERM waits for the running backup
// and exits 0, and SIGKILL mid-backup leaves nothing half-done on the server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { Sandbox, type CommandResult } from './support/sandbox';

const CLI = resolve(__dirname, '..', 'src', 'cli', 'cpsbackup.js');

interface DaemonProcess {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startDaemon(config: string): DaemonProcess {
  const child = spawn(process.execPath, [CLI, 'daemon', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (data: Buffer) => { output += data.toString(); });
  child.stderr!.on('data', (data: Buffer) => { output += data.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
    child.once('exit', (code, signal) => done({ code, signal }));
  });
  return { child, output: () => output, exited };
}

/** Polls until `predicate` holds; the deadline only guards against a hang, it asserts nothing about speed. */
async function waitFor(what: string, predicate: () => boolean | Promise<boolean>, describe: () => string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}:\n${describe()}`);
    await sleep(100);
  }
}

function count(text: string, pattern: RegExp): number {
  return text.match(new RegExp(pattern.source, 'gm'))?.length ?? 0;
}

function ok(result: CommandResult, what: string): CommandResult {
  assert.equal(result.code, 0, `${what} exited ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

/** Every "started" is followed by its own "finished" or "failed" before the next "started". */
function assertNoOverlap(log: string): void {
  let running: string | undefined;
  for (const line of log.split('\n')) {
    const started = / info (\w+): started /.exec(line);
    if (started) {
      assert.equal(running, undefined, `${started[1]} started while ${running} was running:\n${log}`);
      running = started[1];
    }
    if (running !== undefined && new RegExp(` ${running}: (finished|failed)`).test(line)) running = undefined;
  }
}

test('the daemon process: seconds-level cron, skips under a slow dumper, SIGTERM after the running job, SIGKILL leaves nothing', async (t) => {
  const sandbox = await Sandbox.create();
  const daemons: DaemonProcess[] = [];
  t.after(async () => {
    for (const daemon of daemons) if (daemon.child.exitCode === null && daemon.child.signalCode === null) daemon.child.kill('SIGKILL');
    await sandbox.destroy();
  });
  await sandbox.startServer();
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'notes.txt'), 'kept by the daemon\n');
  const storage = join(sandbox.root, 'storage.conf');
  // Two seconds per dump against a schedule of every second: most due runs find the previous one running.
  await writeFile(storage, ['source = app', 'kind = command', 'dump = sleep 2; echo "dump at $(date +%s%N)"', 'load = cat > /dev/null', ''].join('\n'));
  const logFile = join(sandbox.root, 'logs', 'daemon.log');
  const config = await sandbox.writeNodeConfig('node1', [
    `include = ${data}`, `storage_conf = ${storage}`, 'schedule_complete = * * * * * *', `log_file = ${logFile}`,
  ]);
  const listed = async (): Promise<number> => (JSON.parse(ok(await sandbox.runClient(['-c', config, '-l', '--json']), '-l').stdout) as unknown[]).length;

  const daemon = startDaemon(config);
  daemons.push(daemon);
  const committed = /complete: backup \d+ committed/;
  await waitFor('two committed backups and a third one under way', () => count(daemon.output(), committed) >= 2
    && count(daemon.output(), / complete: started /) === count(daemon.output(), committed) + 1, daemon.output);
  daemon.child.kill('SIGTERM');
  const { code, signal } = await daemon.exited;
  const output = daemon.output();
  assert.equal(code, 0, `exit ${code ?? signal}\n${output}`);
  assert.match(output, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info daemon started/m, 'ISO timestamps');
  // The first second-tick can fire while the server answers the missed-run check; either way one run covers it.
  assert.match(output, /complete: (started \(missed run of .*: no complete backup since\)|missed run of .*: no complete backup since; covered by the run already under way)/,
    'no backup yet: one at start');
  assert.ok(count(output, /complete: skipped \(scheduled for .*\): its previous run, started .*, is still running/) >= 1, output);
  assertNoOverlap(output);
  const afterSignal = output.slice(output.indexOf('SIGTERM received'));
  assert.match(afterSignal, /complete: backup \d+ committed[\s\S]*complete: finished[\s\S]*info stopped/, 'the running backup finished first');
  assert.doesNotMatch(afterSignal, / complete: started /, 'nothing started after SIGTERM');
  const backups = count(output, committed);
  console.log(`daemon-process: ${backups} backups committed with a 2 s dumper on an every-second schedule, `
    + `${count(output, /complete: skipped/)} due runs skipped as overlaps`);
  assert.equal(count(output, / complete: started /), backups, 'every run that started committed');
  assert.equal(await listed(), backups, 'every committed backup is listed, nothing else');
  // stdout and stderr are two pipes, so only the set of lines can be compared, not their order.
  const sortedLines = (text: string): string[] => text.split('\n').filter((line) => /^\d{4}-/.test(line)).sort();
  assert.deepEqual(sortedLines(await readFile(logFile, 'utf8')), sortedLines(output), 'log_file holds the same lines');

  // SIGKILL while a backup streams: the server drops the upload, the next run works.
  const killed = startDaemon(config);
  daemons.push(killed);
  await waitFor('a backup under way', () => / complete: started /.test(killed.output()), killed.output);
  await sleep(500); // inside the two-second dump: the upload has begun on the server
  killed.child.kill('SIGKILL');
  await killed.exited;
  const catalog = new Database(join(sandbox.storeDirectory, 'catalog.db'), { readonly: true, fileMustExist: true });
  try {
    const running = catalog.prepare(`SELECT count(*) FROM backups WHERE state = 'running'`).pluck();
    await waitFor('the server to drop the interrupted upload', () => running.get() === 0, () => sandbox.runningServer!.log());
  } finally {
    catalog.close();
  }
  assert.equal(await listed(), backups, 'the interrupted backup never appears');
  ok(await sandbox.runClient(['-c', config, '-e']), '-e after the killed daemon');
  assert.equal(await listed(), backups + 1);
});
