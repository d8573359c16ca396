// Regression: Ctrl-C (SIGINT) to `cpsbackup daemon` exited 130 at once, "interrupted: nothing was
// committed", mid-job: the CLI's own handler came first, so the daemon's "stop after the running job"
// never ran; SIGHUP, with no handler, killed it mid-job. Now SIGINT stops it as SIGTERM does (the running
// backup commits, exit 0) and SIGHUP is logged and ignored. The real daemon against the real server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Sandbox } from './support/sandbox';

const CLI = resolve(__dirname, '..', 'src', 'cli', 'cpsbackup.js');

function count(text: string, pattern: RegExp): number {
  return text.match(new RegExp(pattern.source, 'gm'))?.length ?? 0;
}

async function waitFor(what: string, predicate: () => boolean, describe: () => string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}:\n${describe()}`);
    await sleep(50);
  }
}

const STARTED = / complete: started /;
const COMMITTED = / complete: backup \d+ committed/;

test('SIGHUP is ignored mid-job; SIGINT stops the daemon after the running backup commits, exit 0', async (t) => {
  const sandbox = await Sandbox.create();
  let child: ChildProcess | undefined;
  t.after(async () => {
    if (child?.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await sandbox.destroy();
  });
  await sandbox.startServer();
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'notes.txt'), 'kept by the daemon\n');
  const storage = join(sandbox.root, 'storage.conf');
  // A two-second dump: every signal below lands while a backup is under way.
  await writeFile(storage, ['source = app', 'kind = command', 'dump = sleep 2; echo dumped', 'load = cat > /dev/null', ''].join('\n'));
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`, `storage_conf = ${storage}`, 'schedule_complete = * * * * * *']);
  child = spawn(process.execPath, [CLI, 'daemon', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child!.once('exit', (code, signal) => done({ code, signal })));
  const isRunningJob = (): boolean => count(output, STARTED) === count(output, COMMITTED) + 1;

  await waitFor('a backup under way', () => count(output, STARTED) >= 1 && isRunningJob(), () => output);
  child.kill('SIGHUP');
  await waitFor('the SIGHUP logged', () => /SIGHUP received: ignored/.test(output), () => output);
  const committedBefore = count(output, COMMITTED);
  await waitFor('a commit after SIGHUP, then another backup under way', () => count(output, COMMITTED) > committedBefore && isRunningJob(), () => output);
  assert.equal(child.exitCode, null, `the daemon lives on after SIGHUP:\n${output}`);

  child.kill('SIGINT');
  const { code, signal } = await exited;
  assert.equal(code, 0, `exit ${code ?? signal}\n${output}`);
  assert.doesNotMatch(output, /interrupted/);
  const afterSignal = output.slice(output.indexOf('SIGINT received: no new jobs; waiting for the running one'));
  assert.notEqual(afterSignal, output, `SIGINT was not logged:\n${output}`);
  assert.match(afterSignal, /complete: backup \d+ committed[\s\S]*complete: finished[\s\S]*info stopped/, 'the running backup committed first');
  assert.doesNotMatch(afterSignal, STARTED, 'nothing started after SIGINT');
  assert.equal(count(output, STARTED), count(output, COMMITTED), 'every backup that started committed');
});
