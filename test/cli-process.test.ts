// The cpsbackup process's handlers, by mode, in real processes. Regressions: a closed stdout (EPIPE) made
// every mode exit 0 at once, mid-restore, before the post script, mid-daemon; Ctrl-C reached the daemon as
// an exit 130 instead of its "stop after the running job"; a second Ctrl-C after a backup's commit had gone
// out said "nothing was committed" while the server committed it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const CLI_PROCESS = resolve(__dirname, '..', 'src', 'cli', 'cli-process.js');
const CHILD_PROCESS = resolve(__dirname, '..', 'src', 'client', 'sources', 'child-process.js');
const INTERRUPTED_RESTORE = 'interrupted: the restore stopped; what was restored or loaded before stays';

interface Ended {
  readonly code: number | null;
  readonly stderr: string;
}

/**
 * Runs `body` in a node process whose CliProcess is installed (as `control`), with its stdout a pipe whose
 * reading end is closed at once when `isStdoutClosed`. `body` may use `pause(ms)` and `say(text)` (stderr).
 */
function runWithControl(body: string, isStdoutClosed: boolean): Promise<Ended> {
  const child = spawn(process.execPath, ['-e', controlScript(body)], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (isStdoutClosed) child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  return new Promise((done) => child.on('close', (code) => done({ code, stderr })));
}

/** The program runWithControl runs. */
function controlScript(body: string): string {
  return `const { CliProcess } = require(${JSON.stringify(CLI_PROCESS)});
    const control = new CliProcess();
    control.install();
    const pause = (ms) => new Promise((done) => setTimeout(done, ms));
    const say = (text) => process.stderr.write(text + '\\n');
    (async () => { ${body} })().then(() => process.exit(0), (error) => { say('body failed: ' + error.stack); process.exit(99); });`;
}

/** Writes to stdout (whose reader is gone) several times, then finishes the work and exits with `code`. */
const WORK_AFTER_OUTPUT = (code: number): string => `
  for (let line = 0; line < 5; line++) { process.stdout.write('Restored backup ' + line + '\\n'); await pause(50); }
  say('work finished');
  process.exit(${code});`;

test('a work mode whose stdout reader went away keeps working and ends with the code its work earned', async () => {
  for (const mode of ['restore', 'backup', 'change', 'daemon']) {
    const ended = await runWithControl(`control.setMode('${mode}'); ${WORK_AFTER_OUTPUT(3)}`, true);
    assert.equal(ended.code, 3, `${mode}: ${ended.stderr}`);
    assert.match(ended.stderr, /work finished/, mode);
  }
});

test('a listing whose reader went away ends at once with 0 (the reader chose to stop); so does --help', async () => {
  for (const setMode of [`control.setMode('listing');`, '']) {
    const ended = await runWithControl(`${setMode} ${WORK_AFTER_OUTPUT(3)}`, true);
    assert.equal(ended.code, 0, ended.stderr);
    assert.doesNotMatch(ended.stderr, /work finished/);
  }
});

test('a closed stderr ends no command with an uncaught error', async () => {
  const script = `const { CliProcess } = require(${JSON.stringify(CLI_PROCESS)});
    const control = new CliProcess(); control.install(); control.setMode('restore');
    (async () => { for (let i = 0; i < 5; i++) { process.stderr.write('warning ' + i + '\\n'); await new Promise((d) => setTimeout(d, 50)); }
      process.exit(3); })();`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.destroy();
  assert.equal(await new Promise((done) => child.on('close', done)), 3);
});

test('Ctrl-C: a backup is asked to stop first, the second stops it and says whether its commit had gone out', async () => {
  const twice = `process.kill(process.pid, 'SIGINT'); await pause(100);
    say('aborted: ' + control.signal.aborted);
    process.kill(process.pid, 'SIGINT'); await pause(2000); say('still running');`;
  const before = await runWithControl(`control.setMode('backup'); ${twice}`, false);
  assert.equal(before.code, 130);
  assert.equal(before.stderr, 'aborted: true\ninterrupted: nothing was committed\n');
  const after = await runWithControl(`control.setMode('backup'); control.commitSent(); ${twice}`, false);
  assert.equal(after.code, 130);
  assert.match(after.stderr, /^aborted: true\ninterrupted after the commit was sent: the backup may have been committed; check with cpsbackup -l\n$/);
  assert.doesNotMatch(after.stderr, /nothing was committed/);
  assert.equal(stderrOfInterrupted(await runWithControl(`control.setMode('backup'); control.commitSent(); process.kill(process.pid, 'SIGINT'); await pause(100);
    say(control.interruptedMessage()); process.exit(130);`, false)), 'interrupted after the commit was sent: the backup may have been committed; check with cpsbackup -l\n');
});

test('Ctrl-C leaves the daemon to its own handler', async () => {
  const daemon = await runWithControl(`control.setMode('daemon'); process.on('SIGINT', () => say('the daemon handles it'));
    process.kill(process.pid, 'SIGINT'); await pause(300); say('still running'); process.exit(0);`, false);
  assert.equal(daemon.code, 0);
  assert.equal(daemon.stderr, 'the daemon handles it\nstill running\n');
});

// Regression: the first Ctrl-C of a restore exited at once, before the restore could list what it had kept or failed.
test('Ctrl-C: a restore is asked to stop first, its running loader stopped; the second stops it at once', async () => {
  const twice = `process.kill(process.pid, 'SIGINT'); await pause(100);
    say('aborted: ' + control.signal.aborted); say(control.interruptedMessage());
    process.kill(process.pid, 'SIGINT'); await pause(2000); say('still running');`;
  const restore = await runWithControl(`control.setMode('restore'); ${twice}`, false);
  assert.equal(restore.code, 130);
  assert.equal(restore.stderr, `aborted: true\n${INTERRUPTED_RESTORE}\n${INTERRUPTED_RESTORE}\n`);
  // A loader runs as a process group of its own, which the terminal's Ctrl-C does not reach: the first one stops it.
  const loading = await runWithControl(`control.setMode('restore');
    const { startProcess } = require(${JSON.stringify(CHILD_PROCESS)});
    const loader = startProcess('sleep', ['30'], { stdin: 'ignore', stdout: 'ignore', timeoutSeconds: 60 });
    await pause(100); process.kill(process.pid, 'SIGINT');
    const outcome = await loader.outcome;
    say('loader: ' + (outcome.signal ?? outcome.code)); say(control.interruptedMessage()); process.exit(130);`, false);
  assert.equal(stderrOfInterrupted(loading), 'loader: SIGTERM\ninterrupted: the restore stopped (1 loader or script process sent SIGTERM); '
    + 'what was restored or loaded before stays\n');
});

function stderrOfInterrupted(ended: Ended): string {
  assert.equal(ended.code, 130, ended.stderr);
  return ended.stderr;
}

// Regression: a backup whose connection dropped once its commit had gone out said only that the
// connection dropped, and was committed; the operator (and the post script) took it for lost.
test('a backup failing after its commit was sent says it may be committed; before, or in another mode, nothing', async () => {
  const { CliProcess } = await import('../src/cli/cli-process');
  const control = new CliProcess();
  control.setMode('backup');
  assert.equal(control.failureNote(), undefined);
  control.commitSent();
  assert.equal(control.failureNote(), 'the commit had been sent when this happened: the backup may have been committed; check with cpsbackup -l');
  control.setMode('restore');
  assert.equal(control.failureNote(), undefined);
});

// Regression: only SIGINT was handled. SIGTERM (kill, timeout, systemd's stop) and SIGHUP (a dropped ssh session)
// killed a backup or a restore on the spot, exit 143 or 129 and not a word: no post script, a restore's temporary
// file left in the user's folder. Now each is a Ctrl-C that names itself: the first asks the run to stop, the
// second (any of the three) stops it at once, with the first one's code and name.
test('SIGTERM and SIGHUP: a backup or a restore is asked to stop first; a second signal of any kind stops it, named, 143 or 129', async () => {
  for (const [signal, code] of [['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    for (const second of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
      const backup = await runWithControl(`control.setMode('backup'); process.kill(process.pid, '${signal}'); await pause(100);
        say('aborted: ' + control.signal.aborted); say(control.interruptedMessage() + ' ' + control.interruptedExitCode());
        process.kill(process.pid, '${second}'); await pause(2000); say('still running');`, false);
      assert.equal(backup.code, code, `${signal} then ${second}: ${backup.stderr}`);
      assert.equal(backup.stderr, `aborted: true\ninterrupted by ${signal}: nothing was committed ${code}\ninterrupted by ${signal}: nothing was committed\n`);
    }
    const restore = await runWithControl(`control.setMode('restore');
      const { startProcess } = require(${JSON.stringify(CHILD_PROCESS)});
      const loader = startProcess('sleep', ['30'], { stdin: 'ignore', stdout: 'ignore', timeoutSeconds: 60 });
      await pause(100); process.kill(process.pid, '${signal}');
      const outcome = await loader.outcome;
      say('aborted: ' + control.signal.aborted); say('loader: ' + (outcome.signal ?? outcome.code)); say(control.interruptedMessage());
      process.exit(control.interruptedExitCode());`, false);
    assert.equal(restore.code, code, restore.stderr);
    assert.equal(restore.stderr, `aborted: true\nloader: SIGTERM\ninterrupted by ${signal}: the restore stopped (1 loader or script process sent SIGTERM); `
      + 'what was restored or loaded before stays\n');
    const afterCommit = await runWithControl(`control.setMode('backup'); control.commitSent(); process.kill(process.pid, '${signal}'); await pause(100);
      process.kill(process.pid, 'SIGINT'); await pause(2000); say('still running');`, false);
    assert.equal(afterCommit.code, code, afterCommit.stderr);
    assert.equal(afterCommit.stderr, `interrupted by ${signal} after the commit was sent: the backup may have been committed; check with cpsbackup -l\n`);
  }
});

test('SIGTERM and SIGHUP end a listing, a change or a command not yet started at once, named, 143 or 129; the daemon keeps its own', async () => {
  for (const [signal, code] of [['SIGTERM', 143], ['SIGHUP', 129], ['SIGINT', 130]] as const) {
    const named = signal === 'SIGINT' ? 'interrupted' : `interrupted by ${signal}`;
    for (const [setMode, line] of [[`control.setMode('listing');`, named], [`control.setMode('change');`,
      `${named}: the request may have reached the server; check with cpsbackup -l`], ['', `${named} before anything was started`]]) {
      const ended = await runWithControl(`${setMode} process.kill(process.pid, '${signal}'); await pause(2000); say('still running');`, false);
      assert.equal(ended.code, code, `${setMode} ${signal}: ${ended.stderr}`);
      assert.equal(ended.stderr, `${line}\n`);
    }
    const daemon = await runWithControl(`control.setMode('daemon'); process.on('${signal}', () => say('the daemon handles it'));
      process.kill(process.pid, '${signal}'); await pause(300); say('still running'); process.exit(0);`, false);
    assert.equal(daemon.code, 0);
    assert.equal(daemon.stderr, 'the daemon handles it\nstill running\n');
  }
});

const scriptMissing = spawnSync('script', ['--version']).status !== 0 ? 'needs util-linux script (a terminal to hang up)' : false;

// Regression: after a dropped ssh session's SIGHUP, a restore's next line (its gaps, the interrupted line, the post
// script's output) met EIO on the dead terminal, thrown as any error but EPIPE was: the process aborted before its
// post script. Those lines are now lost as a closed pipe's are, and the work goes on. (Node 20 still ends such a
// process with SIGABRT once it exits, restoring the terminal's settings: nodejs/node#51519; its exit code is not checked.)
test('a restore whose terminal hangs up (a dropped ssh session) stops as on SIGHUP and finishes its work', { skip: scriptMissing }, async () => {
  const folder = await mkdtemp(join(tmpdir(), 'cli-hangup-'));
  try {
    const log = join(folder, 'log');
    const program = join(folder, 'restore.js');
    await writeFile(program, controlScript(`control.setMode('restore');
      const log = (text) => require('node:fs').appendFileSync(${JSON.stringify(log)}, text + '\\n');
      control.signal.addEventListener('abort', () => log('aborted'));
      log('started');
      for (let line = 0; line < 40; line++) { process.stdout.write('restored ' + line + '\\n'); say('warning ' + line); await pause(50); }
      log('work finished');`));
    // script(1) runs it on a terminal of its own; killed, it closes the terminal's master side: the hang-up.
    const terminal = spawn('script', ['-q', '-c', `exec '${process.execPath}' '${program}'`, '/dev/null'], { stdio: ['pipe', 'ignore', 'ignore'] });
    const lines = async (): Promise<string[]> => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean);
    for (let waited = 0; !(await lines()).includes('started'); waited += 50) {
      assert.ok(waited < 10_000, 'the restore did not start on its terminal');
      await sleep(50);
    }
    terminal.kill('SIGKILL');
    for (let waited = 0; (await lines()).at(-1) !== 'work finished' && waited < 10_000; waited += 50) await sleep(50);
    assert.deepEqual(await lines(), ['started', 'aborted', 'work finished']);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});
