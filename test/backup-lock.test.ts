// Regression: nothing kept two backups of one node apart before the server refused the second, and
// that was after its pre script and dumpers had run; its post script, told of the failure, then undid
// the first run's pre script (removed the LVM snapshot the first backup was reading). Now every backup
// entry point takes the node's backup lock first: a second run starts nothing, exit 1, naming the holder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Sandbox } from './support/sandbox';
import { startInProcessServer } from './support/in-process-server';
import { withBackupLock } from '../src/client/backup-lock';
import { runJob } from '../src/client/daemon/daemon-jobs';
import { createLogger } from '../src/common/logger';
import { BusyError } from '../src/common/errors';

const CLI = resolve(__dirname, '..', 'src', 'cli', 'cpsbackup.js');

/** pre and post scripts that append "<phase> <pid>" to `log`. */
async function recordingScripts(root: string, log: string): Promise<string[]> {
  const script = join(root, 'record.sh');
  await writeFile(script, `#!/bin/sh\necho "$1" >> '${log}'\n`);
  await chmod(script, 0o755);
  return [`backup_script_pre = ${script}`, `backup_script_post = ${script}`];
}

async function lines(file: string): Promise<string[]> {
  return (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);
}

/** A backup of `config` started, once its dump (which appends a line to `dumped`) has begun. */
async function backupInItsDump(config: string, dumped: string): Promise<{ first: ChildProcess; firstEnded: Promise<number | null>; output: () => string }> {
  const first = spawn(process.execPath, [CLI, '-c', config, '-e'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  first.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  first.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const firstEnded = new Promise<number | null>((done) => first.on('close', done));
  const deadline = Date.now() + 60_000;
  while ((await lines(dumped)).length === 0) {
    assert.ok(Date.now() < deadline && first.exitCode === null, `the first backup's dump never started:\n${output}`);
    await sleep(50);
  }
  return { first, firstEnded, output: () => output };
}

test('a second -e while one runs is refused before its pre script: one pre, one post, one backup', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  await sandbox.startServer();
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'a.txt'), 'data\n');
  const log = join(sandbox.root, 'scripts.log');
  const dumped = join(sandbox.root, 'dumped.log');
  const storage = join(sandbox.root, 'storage.conf');
  // A three-second dump that records each start: the second run must start none.
  await writeFile(storage, ['source = app', 'kind = command', `dump = echo started >> ${dumped}; sleep 3; echo dump`, 'load = cat > /dev/null', ''].join('\n'));
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`, `storage_conf = ${storage}`, ...await recordingScripts(sandbox.root, log)]);

  const { first, firstEnded, output } = await backupInItsDump(config, dumped);

  const second = await sandbox.runClient(['-c', config, '-e']);
  assert.equal(second.code, 1, `${second.stdout}${second.stderr}`);
  assert.match(second.stderr, new RegExp(`another backup of this node is running \\(pid ${first.pid}, lock .*backup\\.lock\\): this one was not started; no script or dump was run`));
  assert.deepEqual(await lines(log), ['pre'], 'the second run ran no script');

  assert.equal(await firstEnded, 0, output());
  assert.deepEqual(await lines(log), ['pre', 'post'], 'one pre, one post');
  assert.deepEqual(await lines(dumped), ['started'], 'one dump');
  assert.equal((await sandbox.runClient(['-c', config, '-l'])).stdout.split('\n').filter(Boolean).length, 1);
  // The lock went with its holder: the next backup runs.
  assert.equal((await sandbox.runClient(['-c', config, '-e'])).code, 0);
});

test('a daemon job meeting another backup of the node fails before its pre script; it runs once the lock is free', async (t) => {
  const fixture = await startInProcessServer();
  t.after(() => fixture.stop());
  const root = fixture.sandbox.root;
  const data = join(root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'a.txt'), 'daemon data\n');
  const log = join(root, 'scripts.log');
  const config = await fixture.nodeConfig('node1', [`include = ${data}`, ...await recordingScripts(root, log)]);
  const context = { config, storage: () => undefined, logger: createLogger('daemon', () => undefined) };

  // Held here as an operator's -e would hold it.
  await withBackupLock(config, async () => {
    await assert.rejects(runJob('complete', context, new AbortController().signal),
      (error: unknown) => error instanceof BusyError && new RegExp(`another backup of this node is running \\(pid ${process.pid}, `).test(error.message));
  }, (warning) => assert.fail(warning));
  assert.deepEqual(await lines(log), [], 'no script ran');
  assert.deepEqual(fixture.server.context.store.listBackups('node1'), []);
  await runJob('complete', context, new AbortController().signal);
  assert.deepEqual(await lines(log), ['pre', 'post']);
  assert.equal(fixture.server.context.store.listBackups('node1').length, 1);
});

// Regression: the lock made a writable, lockable state_directory a precondition of every backup: -e as a
// non-root user beside a root daemon (EACCES), or a state_directory on NFS without flock, failed every
// backup with a raw error, unreported, no post script. The lock is protection, not a precondition.
test('a backup whose state_directory cannot hold the lock commits, warned that the overlap protection is off', async (t) => {
  const fixture = await startInProcessServer();
  t.after(() => fixture.stop());
  const root = fixture.sandbox.root;
  const data = join(root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'a.txt'), 'backed up without a lock\n');
  // A state_directory whose parent is a regular file: mkdir fails ENOTDIR, as root too.
  await writeFile(join(root, 'not-a-folder'), '');
  const log = join(root, 'scripts.log');
  const config = { ...await fixture.nodeConfig('node1', [`include = ${data}`, ...await recordingScripts(root, log)]),
    stateDirectory: join(root, 'not-a-folder', 'state') };
  const warnings: string[] = [];
  const logger = createLogger('daemon', (line) => { if (line.includes(' warn ')) warnings.push(line); });
  await runJob('complete', { config, storage: () => undefined, logger }, new AbortController().signal);
  assert.deepEqual(await lines(log), ['pre', 'post']);
  assert.equal(fixture.server.context.store.listBackups('node1').length, 1);
  assert.match(warnings.join(''), /cannot take the backup lock .*not-a-folder\/state\/backup\.lock \(ENOTDIR\): this backup runs without protection/);
});

// Regression (red team redconf): two node.conf files with state_directories of their own and one
// work_directory made their dump FIFOs at the same paths; one's dumper wrote into the other's FIFO and
// a backup held both databases' dumps, exit 0. The work_directory is locked too.
test('a backup of another node.conf with the same work_directory is refused while one runs, starting nothing', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1', 'node2'] });
  t.after(() => sandbox.destroy());
  await sandbox.startServer();
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'a.txt'), 'data\n');
  const shared = join(sandbox.root, 'shared-work');
  const dumped = join(sandbox.root, 'dumped.log');
  const storage = join(sandbox.root, 'storage.conf');
  await writeFile(storage, ['source = app', 'kind = command', `dump = echo "started $PPID" >> ${dumped}; sleep 3; echo dump`, 'load = cat > /dev/null', ''].join('\n'));
  const configOf = async (client: string): Promise<string> => {
    const file = await sandbox.writeNodeConfig(client, [`include = ${data}`, `storage_conf = ${storage}`]);
    await writeFile(file, (await readFile(file, 'utf8')).replace(/^work_directory = .*$/m, `work_directory = ${shared}`));
    return file;
  };
  const [onSite, offSite] = [await configOf('node1'), await configOf('node2')];
  const { first, firstEnded, output } = await backupInItsDump(onSite, dumped);
  const second = await sandbox.runClient(['-c', offSite, '-e']);
  assert.equal(second.code, 1, `${second.stdout}${second.stderr}`);
  assert.match(second.stderr, new RegExp(`a backup of a node\\.conf with the same work_directory is running \\(pid ${first.pid}, lock .*locks/work\\.lock\\): this backup was not started`));
  assert.equal(await firstEnded, 0, output());
  assert.equal((await lines(dumped)).length, 1, 'one dump');
  assert.equal((await sandbox.runClient(['-c', offSite, '-e'])).code, 0, 'the lock went with its holder');
});
