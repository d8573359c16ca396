// Proves node.conf's scripts through the real CLI and server: a failing backup_script_pre fails the
// backup (exit 1, its stderr shown, nothing committed); backup_script_post runs after every outcome
// and gets it (burp's arguments, plus the backup id and CPSBACKUP_* variables); restore_script_post
// runs after a restore, with the restored files already in place, and after a failed one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox, type CommandResult } from './support/sandbox';

function exited(result: CommandResult, code: number, what: string): CommandResult {
  assert.equal(result.code, code, `${what} exited ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

interface ScriptCall {
  readonly args: string;
  readonly action: string;
  readonly phase: string;
  readonly outcome: string;
  readonly backupId: string;
  readonly exitCode: string;
  readonly error: string;
  readonly restoreTo: string;
  /** Whether `$CHECK_FILE` existed when the script ran (set for the restore script). */
  readonly sawFile: string;
}

/** A script appending one line per call (its arguments and CPSBACKUP_* environment), then running `extra`. */
async function recordingScript(root: string, name: string, log: string, extra = ''): Promise<string> {
  const script = join(root, name);
  await writeFile(script, `#!/bin/sh
error_line=$(printf '%s' "$CPSBACKUP_ERROR" | head -n 1)
saw=no; [ -n "$CHECK_FILE" ] && [ -e "$CHECK_FILE" ] && saw=yes
printf '%s|%s|%s|%s|%s|%s|%s|%s|%s\\n' "$*" "$CPSBACKUP_ACTION" "$CPSBACKUP_PHASE" "$CPSBACKUP_OUTCOME" "$CPSBACKUP_BACKUP_ID" \\
  "$CPSBACKUP_EXIT_CODE" "$error_line" "$CPSBACKUP_RESTORE_TO" "$saw" >> '${log}'
${extra}
`);
  await chmod(script, 0o755);
  return script;
}

async function calls(log: string): Promise<ScriptCall[]> {
  const text = await readFile(log, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((line) => {
    const [args, action, phase, outcome, backupId, exitCode, error, restoreTo, sawFile] = line.split('|');
    return { args, action, phase, outcome, backupId, exitCode, error, restoreTo, sawFile };
  });
}

test('backup_script_pre failing fails the backup; backup_script_post gets every outcome', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  await sandbox.startServer();
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'a.txt'), 'hello\n');
  const preLog = join(sandbox.root, 'pre.log');
  const postLog = join(sandbox.root, 'post.log');
  const preFails = join(sandbox.root, 'pre-fails');
  const postFails = join(sandbox.root, 'post-fails');
  const pre = await recordingScript(sandbox.root, 'pre.sh', preLog,
    `if [ -e '${preFails}' ]; then echo "cannot freeze the database" >&2; exit 4; fi\necho "pre says hello"`);
  const post = await recordingScript(sandbox.root, 'post.sh', postLog, `if [ -e '${postFails}' ]; then echo "cannot thaw" >&2; exit 5; fi`);
  const storage = join(sandbox.root, 'storage.conf');
  await writeFile(storage, '');
  const config = await sandbox.writeNodeConfig('node1', [
    `include = ${data}`, `storage_conf = ${storage}`,
    `backup_script_pre = ${pre}`, 'backup_script_pre_arg = --freeze', 'backup_script_pre_arg = with space',
    `backup_script_post = ${post}`, 'backup_script_post_arg = --thaw',
  ]);
  const cli = (...args: string[]) => sandbox.runClient(['-c', config, ...args]);
  const listed = async () => (JSON.parse(exited(await cli('-l', '--json'), 0, '-l').stdout) as { id: number }[]).map((backup) => backup.id);

  // The pre script fails: exit 1, its stderr shown, nothing committed; the post script hears of it.
  await writeFile(preFails, '');
  const refused = exited(await cli('-e'), 1, 'backup with a failing pre script');
  assert.match(refused.stderr, new RegExp(`backup_script_pre ${pre} exited with code 4:\\ncannot freeze the database\\nbackup not started: nothing was sent or committed`));
  assert.deepEqual(await listed(), []);
  assert.deepEqual((await calls(preLog)).map((call) => [call.args, call.phase, call.outcome]),
    [['pre reserved2 reserved3 reserved4 reserved5 --freeze with space', 'pre', '']]);
  let postCalls = await calls(postLog);
  assert.deepEqual(postCalls.map((call) => [call.args, call.action, call.phase, call.outcome, call.backupId, call.exitCode]),
    [['post 1 0 reserved4 reserved5 --thaw', 'backup', 'post', 'failure', '0', '1']]);
  assert.match(postCalls[0].error, /^backup_script_pre .* exited with code 4:$/);

  // Both succeed: the backup is made; the post script gets success and its id; the pre script's stdout is shown.
  await rm(preFails);
  const done = exited(await cli('-e'), 0, 'backup with both scripts succeeding');
  assert.match(done.stderr, /pre says hello/);
  assert.deepEqual(await listed(), [1]);
  postCalls = await calls(postLog);
  assert.deepEqual(postCalls.slice(1).map((call) => [call.args, call.outcome, call.backupId, call.exitCode, call.error]),
    [['post 0 1 reserved4 reserved5 --thaw', 'success', '1', '0', '']]);

  // The backup itself fails (a dump source exits 3): the post script still runs, told the failure and why.
  await writeFile(storage, ['source = db', 'kind = command', `dump = sh -c 'echo "dump broke" >&2; exit 3'`, 'load = cat > /dev/null', ''].join('\n'));
  const failed = exited(await cli('-e'), 1, 'backup whose dump fails');
  assert.match(failed.stderr, /dump source db/);
  postCalls = await calls(postLog);
  assert.deepEqual(postCalls.slice(2).map((call) => [call.args, call.outcome, call.backupId]), [['post 1 0 reserved4 reserved5 --thaw', 'failure', '0']]);
  assert.match(postCalls[2].error, /dump source db/);
  assert.deepEqual(await listed(), [1]);

  // The post script fails after a committed backup: the backup stays, the command says so with exit 3.
  await writeFile(storage, '');
  await writeFile(postFails, '');
  const postFailed = exited(await cli('-e'), 3, 'backup whose post script fails');
  assert.match(postFailed.stderr, new RegExp(`error: backup_script_post ${post} exited with code 5:\\ncannot thaw`));
  assert.deepEqual(await listed(), [1, 3]);
  assert.deepEqual((await calls(postLog)).slice(3).map((call) => [call.outcome, call.backupId]), [['success', '3']]);
  assert.equal((await calls(preLog)).length, 4, 'the pre script ran before every backup');
});

test('restore_script_post runs after a restore with the files in place, and after a failed restore', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  await sandbox.startServer();
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'a.txt'), 'restore me\n');
  const log = join(sandbox.root, 'restore.log');
  const script = await recordingScript(sandbox.root, 'restored.sh', log);
  const target = join(sandbox.root, 'target');
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`, `restore_script_post = ${script}`, 'restore_script_post_arg = reindex']);
  exited(await sandbox.runClient(['-c', config, '-e']), 0, 'backup');
  // CHECK_FILE reaches the script through the environment cpsbackup passes on.
  const restoreEnv = { ...process.env, CHECK_FILE: join(target, data, 'a.txt') };
  const restored = await runWithEnv(['-c', config, '-i', '--to', target], restoreEnv);
  exited(restored, 0, '-i --to');
  assert.equal(await readFile(join(target, data, 'a.txt'), 'utf8'), 'restore me\n');
  let restoreCalls = await calls(log);
  assert.deepEqual(restoreCalls.map((call) => [call.args, call.action, call.phase, call.outcome, call.backupId, call.restoreTo, call.sawFile]),
    [['post 0 1 reserved4 reserved5 reindex', 'restore', 'post', 'success', '1', target, 'yes']]);

  exited(await runWithEnv(['-c', config, '-i', '7', '--to', target], restoreEnv), 1, '-i of a backup that does not exist');
  restoreCalls = await calls(log);
  assert.deepEqual(restoreCalls.slice(1).map((call) => [call.args, call.outcome, call.backupId]), [['post 1 0 reserved4 reserved5 reindex', 'failure', '0']]);
  assert.match(restoreCalls[1].error, /no backup 7/);
});

/** The CLI with an environment of the test's choosing (the sandbox's runClient passes its own). */
function runWithEnv(args: string[], env: NodeJS.ProcessEnv): Promise<CommandResult> {
  const cli = join(__dirname, '..', 'src', 'cli', 'cpsbackup.js');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data: Buffer) => { stdout += data.toString(); });
    child.stderr.on('data', (data: Buffer) => { stderr += data.toString(); });
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
