// Proves through the real CLI and server that a dumper failing halfway invalidates the backup
// (named source, stderr tail, nothing listed, earlier backups intact) and that a failed load
// exits 3 with the loader's stderr and keeps its dump file; --no-load restores dumps only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox, type CommandResult } from './support/sandbox';
import { startClient } from './support/background-client';
import { setTimeout as sleep } from 'node:timers/promises';

interface Listed {
  id: number;
  kind: string;
  logicalBytes: number;
}

async function withSandbox(run: (sandbox: Sandbox) => Promise<void>): Promise<void> {
  const sandbox = await Sandbox.create();
  try {
    await sandbox.startServer();
    await run(sandbox);
  } finally {
    await sandbox.destroy();
  }
}

/** Writes storage.conf and node1.conf; the returned runner takes a storage.conf text to switch to. */
async function configure(sandbox: Sandbox, extraNodeLines: readonly string[] = []): Promise<{
  cli: (...args: string[]) => Promise<CommandResult>;
  setStorage: (lines: readonly string[]) => Promise<void>;
}> {
  const storage = join(sandbox.root, 'storage.conf');
  const setStorage = (lines: readonly string[]): Promise<void> => writeFile(storage, `${lines.join('\n')}\n`);
  await setStorage([]);
  const config = await sandbox.writeNodeConfig('node1', [`storage_conf = ${storage}`, ...extraNodeLines]);
  return { cli: (...args) => sandbox.runClient(['-c', config, ...args]), setStorage };
}

function exited(result: CommandResult, code: number, what: string): CommandResult {
  assert.equal(result.code, code, `${what} exited ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

async function listed(cli: (...args: string[]) => Promise<CommandResult>): Promise<Listed[]> {
  return JSON.parse(exited(await cli('-l', '--json'), 0, '-l --json').stdout) as Listed[];
}

test('a dumper exiting 1 halfway: -e fails naming the source with its stderr, nothing listed, the earlier backup intact', async () => {
  await withSandbox(async (sandbox) => {
    const data = join(sandbox.root, 'data');
    const { cli, setStorage } = await configure(sandbox, [`include = ${data}`]);
    await mkdir(data);
    await writeFile(join(data, 'notes.txt'), 'kept across a failed backup\n');
    await setStorage(['source = good', 'kind = command', `dump = seq 1 200000`, 'load = cat > /dev/null']);
    exited(await cli('-e'), 0, 'first -e');
    const before = await listed(cli);
    assert.equal(before.length, 1);

    // The good source keeps running beside the failing one: the whole backup must still fail.
    await setStorage([
      'source = good', 'kind = command', `dump = seq 1 200000`, 'load = cat > /dev/null',
      'source = broken', 'kind = command', `dump = sh -c 'seq 1 50000; echo "pg_dump: error: connection lost" >&2; exit 1'`, 'load = cat > /dev/null',
    ]);
    const failed = await cli('-e');
    assert.notEqual(failed.code, 0, `a failed dumper must fail the backup\n${failed.stdout}`);
    assert.match(failed.stderr, /dump source broken: .*exited with code 1/);
    assert.match(failed.stderr, /pg_dump: error: connection lost/);
    assert.doesNotMatch(failed.stderr, /\n\s+at /, 'no stack trace for a dumper failure');
    assert.deepEqual((await listed(cli)).map((backup) => backup.id), before.map((backup) => backup.id));
    const leftovers = await readdir(join(sandbox.root, 'work', 'node1'), { recursive: true });
    assert.deepEqual(leftovers.filter((name) => name.includes('broken') || name.includes('good')), [], 'no FIFOs left behind');

    const target = join(sandbox.root, 'restored');
    const restoredTo = exited(await cli('-i', String(before[0].id), '--to', target, '--no-load'), 0, '-i of the earlier backup');
    assert.equal(await readFile(join(target, data, 'notes.txt'), 'utf8'), 'kept across a failed backup\n');
    const dump = await readFile(join(target, sandbox.root, 'work', 'node1', 'dumps', 'good', 'dump'), 'utf8');
    assert.equal(dump.split('\n').length, 200001);
    assert.doesNotMatch(restoredTo.stderr, /backups refuse to start/, 'a dump restored --to a folder is in no FIFO\'s way');
  });
});

test('a failed load exits 3 with the loader\'s stderr and keeps the dump file; --no-load restores the dump only', async () => {
  await withSandbox(async (sandbox) => {
    const { cli, setStorage } = await configure(sandbox);
    const sink = join(sandbox.root, 'loaded.txt');
    await setStorage(['source = app', 'kind = command', 'dump = seq 1 1000', `load = sh -c 'echo "loaddata: bad fixture" >&2; exit 4'`]);
    exited(await cli('-e'), 0, '-e');
    const dumpPath = join(sandbox.root, 'work', 'node1', 'dumps', 'app', 'dump');

    const failed = exited(await cli('-i'), 3, '-i with a failing loader');
    assert.match(failed.stderr, /load of app failed/);
    assert.match(failed.stderr, /exited with code 4/);
    assert.match(failed.stderr, /loaddata: bad fixture/);
    // Said where the operator is: the kept file stops every backup until it is dealt with.
    assert.ok(failed.stderr.includes(`warning: ${dumpPath}: backups refuse to start while this dump file is there`), failed.stderr);
    assert.equal((await readFile(dumpPath, 'utf8')).split('\n').length, 1001, 'the dump file is kept, whole');
    const blocked = await cli('-e');
    assert.notEqual(blocked.code, 0, 'a backup must not replace a kept dump with a FIFO');
    assert.match(blocked.stderr, /exists and is not a FIFO/);
    assert.equal((await stat(dumpPath)).isFile(), true);

    // The operator fixes the loader; the kept file would block the next backup's FIFO, so restore over it and load.
    await setStorage(['source = app', 'kind = command', 'dump = seq 1 1000', `load = cat > ${sink}`]);
    const noLoad = exited(await cli('-i', '--no-load'), 0, '-i --no-load');
    assert.match(noLoad.stdout, /1 dump files restored, not loaded \(--no-load\)/);
    assert.ok(noLoad.stderr.includes(`warning: ${dumpPath}: backups refuse to start while this dump file is there`), noLoad.stderr);
    await assert.rejects(stat(sink), { code: 'ENOENT' }, '--no-load runs no loader');
    assert.equal((await stat(dumpPath)).isFile(), true);

    const loaded = exited(await cli('-i'), 0, '-i with a working loader');
    assert.match(loaded.stdout, /loaded app from /);
    assert.equal((await readFile(sink, 'utf8')).split('\n').length, 1001);
    await assert.rejects(stat(dumpPath), { code: 'ENOENT' }, 'the dump file is deleted once loaded');
  });
});

test('Ctrl-C during -i stops the running loader (a process group Ctrl-C does not reach) and says what stays', async () => {
  const sandbox = await Sandbox.create();
  try {
    await sandbox.startServer();
    const started = join(sandbox.root, 'loader-started');
    const loaded = join(sandbox.root, 'loaded');
    const storage = join(sandbox.root, 'storage.conf');
    await writeFile(storage, ['source = slow', 'kind = command', 'dump = echo rows',
      `load = sh -c 'echo $$ > ${started}; sleep 30; cat > ${loaded}'`, ''].join('\n'));
    const config = await sandbox.writeNodeConfig('node1', [`storage_conf = ${storage}`]);
    const backup = await sandbox.runClient(['-c', config, '-e']);
    assert.equal(backup.code, 0, backup.stderr);
    const restore = startClient(['-c', config, '-i']);
    let loaderPid = 0;
    try {
      for (let waited = 0; loaderPid === 0; waited += 50) {
        assert.ok(waited < 20_000, `the loader never started:\n${restore.output()}`);
        await sleep(50);
        loaderPid = Number(await readFile(started, 'utf8').catch(() => '0')) || 0;
      }
      restore.child.kill('SIGINT');
      const result = await restore.result;
      assert.equal(result.code, 130, result.stdout + result.stderr);
      // The first Ctrl-C stops the loader; the restore reports that load (its file kept), then says it was interrupted.
      const lines = result.stderr.trimEnd().split('\n');
      const stoppedLoad = /^error: load of slow failed, (\S+) kept: load slow: loader was stopped \(its backup or restore was aborted\)$/.exec(lines[0]);
      assert.ok(stoppedLoad !== null, result.stderr);
      assert.equal(lines.at(-1), 'interrupted: the restore stopped (1 loader or script process sent SIGTERM); what was restored or loaded before stays');
      assert.equal((await stat(stoppedLoad[1])).isFile(), true, 'the dump file of the stopped load is kept');
      // Gone, or a zombie (under a PID 1 that reaps nothing, as in some containers): either way not running.
      const isRunning = async (): Promise<boolean> => {
        const stat = await readFile(`/proc/${loaderPid}/stat`, 'latin1').catch(() => undefined);
        return stat !== undefined && !['Z', 'X'].includes(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
      };
      let isGone = false;
      for (let waited = 0; !isGone && waited < 5000; waited += 50) {
        await sleep(50);
        isGone = !await isRunning();
      }
      assert.ok(isGone, 'the loader went on running after cpsbackup exited');
      await assert.rejects(stat(loaded), { code: 'ENOENT' });
    } finally {
      await restore.stop();
      await stopGroupOf(loaderPid);
    }
  } finally {
    await sandbox.destroy();
  }
});

/** Kills the process group a process belongs to, if it still runs (what a failing test would leave). */
async function stopGroupOf(pid: number): Promise<void> {
  if (pid === 0) return;
  const stat = await readFile(`/proc/${pid}/stat`, 'latin1').catch(() => undefined);
  if (stat === undefined) return;
  const groupId = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  try {
    process.kill(-groupId, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
}

test('a dump command that exits 0 and writes nothing fails the backup, naming the source; with --partial an empty partial dump is kept', async () => {
  await withSandbox(async (sandbox) => {
    const data = join(sandbox.root, 'data');
    const { cli, setStorage } = await configure(sandbox, [`include = ${data}`]);
    await mkdir(data);
    await writeFile(join(data, 'notes.txt'), 'n\n');
    // Its output went elsewhere: stdout closed, a line on stderr, exit 0 (a broken wrapper).
    await setStorage(['source = app', 'kind = command', `dump = sh -c 'exec 1>&-; echo "oops" >&2; exit 0'`, 'load = cat > /dev/null']);
    const failed = await cli('-e');
    assert.notEqual(failed.code, 0, `an empty dump must fail the backup\n${failed.stdout}`);
    assert.match(failed.stderr, /dump source app: .*dumps\/app\/dump: the dump command exited 0 but wrote nothing/, failed.stderr);
    assert.deepEqual(await listed(cli), []);

    // A partial dump of no changes is empty by right.
    await setStorage(['source = app', 'kind = command', 'dump = seq 1 10', `dump_partial = sh -c 'exit 0' # since {since}`, 'load = cat > /dev/null', 'load_partial = cat > /dev/null']);
    exited(await cli('-e'), 0, 'complete -e');
    exited(await cli('-e', '--partial'), 0, 'partial -e with nothing changed');
  });
});

// Regression (red team): dumpers start together and are read one after another, and a source's timeout ran from
// its start: one waiting on its full pipe while a longer dump before it was read timed out, every backup (a 2 h
// pg_dump and a second source on the default 3600 s). Its timeout now runs from when its dump starts being read.
test('a source\'s timeout runs from when its dump is read, not while it waits for the sources read before it', async () => {
  await withSandbox(async (sandbox) => {
    const { cli, setStorage } = await configure(sandbox);
    await setStorage(['source = slow', 'kind = command', 'dump = sleep 6; echo slow-done', 'load = cat > /dev/null', 'timeout = 60',
      'source = fast', 'kind = command', 'dump = seq 1 200000', 'load = cat > /dev/null', 'timeout = 4']);
    const backup = exited(await cli('-e'), 0, '-e');
    assert.doesNotMatch(backup.stderr, /timed out/);
    // And a dumper that hangs once read still times out.
    await setStorage(['source = hang', 'kind = command', 'dump = echo start; sleep 60', 'load = cat > /dev/null', 'timeout = 2']);
    const hung = exited(await cli('-e'), 1, '-e of a hanging dumper');
    assert.match(hung.stderr, /timed out after 2 s/);
  });
});
