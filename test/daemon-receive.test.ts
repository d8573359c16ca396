// The receive job inside the real daemon: with schedule_receive every second, the receiver loads
// each new backup of prod once (then logs "nothing new" on every later run), runs postprocess once
// per load, picks up a partial backup made meanwhile, and stops cleanly on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Sandbox, type CommandResult } from './support/sandbox';

const CLI = resolve(__dirname, '..', 'src', 'cli', 'cpsbackup.js');

function ok(result: CommandResult, what: string): CommandResult {
  assert.equal(result.code, 0, `${what} exited ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

/** Polls until `predicate` holds; the deadline only guards against a hang. */
async function waitFor(what: string, predicate: () => boolean, describe: () => string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}:\n${describe()}`);
    await sleep(100);
  }
}

const lines = async (file: string): Promise<string[]> => (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);

test('daemon schedule_receive: each new backup of prod loaded once, postprocess once per load, SIGTERM exits 0', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['prod'] });
  await sandbox.addClient('receiver', ['restore_client = prod']);
  let daemon: ReturnType<typeof spawn> | undefined;
  t.after(async () => {
    if (daemon && daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL');
    await sandbox.destroy();
  });
  await sandbox.startServer();
  const generation = join(sandbox.root, 'generation');
  const loaded = join(sandbox.root, 'loaded.log');
  const postprocessLog = join(sandbox.root, 'postprocess.log');
  const prodStorage = join(sandbox.root, 'prod-storage.conf');
  await writeFile(prodStorage, ['source = app', 'kind = command', `dump = echo "complete $(cat ${generation})"`, 'load = cat > /dev/null',
    `dump_partial = echo "partial $(cat ${generation})" # since {since}`, 'load_partial = cat > /dev/null', ''].join('\n'));
  // The receiver's own loaders for the same source name: they append what they load to a file.
  const receiverStorage = join(sandbox.root, 'receiver-storage.conf');
  await writeFile(receiverStorage, ['source = app', 'kind = command', 'dump = true', `load = cat >> ${loaded}`,
    'dump_partial = echo {since}', `load_partial = cat >> ${loaded}`, ''].join('\n'));
  const prodConfig = await sandbox.writeNodeConfig('prod', [`storage_conf = ${prodStorage}`]);
  const receiverLines = [
    `storage_conf = ${receiverStorage}`, 'schedule_receive = * * * * * *', 'receive_client = prod',
    `postprocess = echo "$CPSBACKUP_BACKUP_ID" >> ${postprocessLog}`,
  ];
  const receiverConfig = await sandbox.writeNodeConfig('receiver', receiverLines);

  await writeFile(generation, '1\n');
  ok(await sandbox.runClient(['-c', prodConfig, '-e']), 'prod -e');
  // A receiver whose storage.conf names no source of prod's dumps refuses rather than record a load that never happened.
  const misnamedStorage = join(sandbox.root, 'misnamed-storage.conf');
  await writeFile(misnamedStorage, ['source = reports', 'kind = command', 'dump = true', `load = cat >> ${loaded}`, ''].join('\n'));
  await sandbox.writeNodeConfig('receiver', [`storage_conf = ${misnamedStorage}`]);
  const misnamed = await sandbox.runClient(['-c', receiverConfig, '-i', '--client', 'prod', '--if-new']);
  assert.equal(misnamed.code, 2, misnamed.stderr);
  assert.match(misnamed.stderr, /no source here matches a dump of backup 1 \(.*dumps\/app\/dump\); sources are matched by name/);
  // What --if-new cannot honour (it loads whole backups) is refused, not silently ignored.
  for (const extra of [['--include', '/srv'], ['-r', 'x'], ['--strip', '1'], ['--load']]) {
    const refused = await sandbox.runClient(['-c', receiverConfig, '-i', '--client', 'prod', '--if-new', ...extra]);
    assert.equal(refused.code, 2, `${extra.join(' ')}: ${refused.stderr}`);
    assert.match(refused.stderr, /--if-new goes with -i alone/);
  }
  await sandbox.writeNodeConfig('receiver', receiverLines);
  daemon = spawn(process.execPath, [CLI, 'daemon', '-c', receiverConfig], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  daemon.stdout!.on('data', (data: Buffer) => { output += data.toString(); });
  daemon.stderr!.on('data', (data: Buffer) => { output += data.toString(); });
  const exited = new Promise<number | null>((done) => daemon!.once('exit', (code) => done(code)));
  const nothingNew = (): number => output.match(/receive: nothing new from prod/g)?.length ?? 0;

  await waitFor('the complete backup loaded and two idle runs after it', () => nothingNew() >= 2, () => output);
  assert.deepEqual(await lines(loaded), ['complete 1']);
  await writeFile(generation, '2\n');
  ok(await sandbox.runClient(['-c', prodConfig, '-e', '--partial']), 'prod -e --partial');
  const idleBefore = nothingNew();
  await waitFor('the partial backup loaded and two idle runs after it', () => /receive: applied backups 2 from prod/.test(output)
    && nothingNew() >= idleBefore + 2, () => output);
  daemon.kill('SIGTERM');
  assert.equal(await exited, 0, output);

  assert.deepEqual(await lines(loaded), ['complete 1', 'partial 2'], 'each backup loaded exactly once');
  assert.deepEqual(await lines(postprocessLog), ['1', '2'], 'postprocess once per load');
  assert.match(output, /receive: applied backups 1 from prod/);
  assert.doesNotMatch(output, / error /, output);
});

test('daemon: a second SIGTERM aborts a receive job whose loader hangs: the loader group is stopped, nothing is recorded, the next run loads again', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['prod'] });
  await sandbox.addClient('receiver', ['restore_client = prod']);
  let daemon: ReturnType<typeof spawn> | undefined;
  let pid = 0;
  t.after(async () => {
    if (daemon && daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL');
    // Without the fix the loader's group outlives the daemon: this test stops what it started.
    if (pid > 0) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone already, as it should be
      }
    }
    await sandbox.destroy();
  });
  await sandbox.startServer();
  const prodStorage = join(sandbox.root, 'prod-storage.conf');
  await writeFile(prodStorage, ['source = app', 'kind = command', 'dump = echo rows', 'load = cat > /dev/null', ''].join('\n'));
  const prodConfig = await sandbox.writeNodeConfig('prod', [`storage_conf = ${prodStorage}`]);
  ok(await sandbox.runClient(['-c', prodConfig, '-e']), 'prod -e');
  const loaderPid = join(sandbox.root, 'loader.pid');
  const receiverStorage = join(sandbox.root, 'receiver-storage.conf');
  // A loader stuck on a locked table: it never ends by itself.
  await writeFile(receiverStorage, ['source = app', 'kind = command', 'dump = true', `load = echo $$ > ${loaderPid}; cat > /dev/null; sleep 600`, ''].join('\n'));
  const receiverConfig = await sandbox.writeNodeConfig('receiver', [
    `storage_conf = ${receiverStorage}`, 'schedule_receive = * * * * * *', 'receive_client = prod',
  ]);
  daemon = spawn(process.execPath, [CLI, 'daemon', '-c', receiverConfig], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  daemon.stdout!.on('data', (data: Buffer) => { output += data.toString(); });
  daemon.stderr!.on('data', (data: Buffer) => { output += data.toString(); });
  const exited = new Promise<number | null>((done) => daemon!.once('exit', (code) => done(code)));
  for (const deadline = Date.now() + 90_000; pid === 0; await sleep(100)) {
    if (Date.now() > deadline) throw new Error(`the loader never started:\n${output}`);
    pid = Number((await readFile(loaderPid, 'utf8').catch(() => '')).trim()) || 0;
  }
  daemon.kill('SIGTERM');
  await waitFor('the first SIGTERM logged', () => /waiting for the running one/.test(output), () => output);
  daemon.kill('SIGTERM');
  assert.equal(await exited, 0, output);
  assert.match(output, /sent SIGTERM to 1 running command \(loader, postprocess or script\) of the aborted job/);
  assert.throws(() => process.kill(-pid, 0), { code: 'ESRCH' }, 'no process of the loader\'s group is left');
  assert.doesNotMatch(output, /receive: applied backups/);
  // Nothing was recorded as applied: a receive now (with a loader that works) loads backup 1.
  await writeFile(receiverStorage, ['source = app', 'kind = command', 'dump = true', 'load = cat > /dev/null', ''].join('\n'));
  const again = ok(await sandbox.runClient(['-c', receiverConfig, '-i', '--if-new']), 'receive after the abort');
  assert.match(again.stdout, /Received backup 1 of prod: 1 dumps loaded/);
});
