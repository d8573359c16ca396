// Regression: with read_all_fifos = 1, a FIFO that no process had open for writing kept the backup
// waiting for ever (Linux tells epoll of no hang-up until a writer has come). It must read as empty at
// once (listed: what was asked for is not there, exit 3), while a FIFO whose writer is slow to write is still read to the writer's close, and one holding
// what a writer left before it went (another reader keeps it open) is read to that end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { lstat, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { Sandbox } from './support/sandbox';

for (const chunking of ['client', 'server'] as const) {
  test(`a FIFO nobody writes to reads as empty; a slow writer is read to its close (chunking = ${chunking})`, async (t) => {
    const sandbox = await Sandbox.create();
    let writer: ChildProcess | undefined;
    let holder: ChildProcess | undefined;
    t.after(async () => {
      writer?.kill('SIGKILL');
      holder?.kill('SIGKILL');
      await sandbox.destroy();
    });
    const data = join(sandbox.root, 'data');
    await mkdir(data);
    const unwritten = join(data, 'a-unwritten.fifo');
    const slow = join(data, 'b-slow.fifo');
    const left = join(data, 'c-left.fifo');
    execFileSync('mkfifo', [unwritten, slow, left]);
    // Another reader holds c-left open (and never reads) while a writer puts a line in and goes.
    const holdOpen = `const { openSync, constants } = require('node:fs');
      openSync(${JSON.stringify(left)}, constants.O_RDONLY | constants.O_NONBLOCK);
      process.stdout.write('open\\n');
      setInterval(() => {}, 1000);`;
    holder = spawn(process.execPath, ['-e', holdOpen], { stdio: ['ignore', 'pipe', 'inherit'] });
    await once(holder.stdout!, 'data');
    execFileSync('sh', ['-c', 'printf "left behind\\n" > "$1"', 'writer', left]);
    // Opens at once (blocked until the backup reads), writes nothing for a while, then writes and closes.
    writer = spawn('sh', ['-c', 'exec 3> "$1"; sleep 1; printf "late line\\n" >&3; exec 3>&-', 'writer', slow], { stdio: 'ignore' });
    await sandbox.startServer();
    const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`, 'read_all_fifos = 1', `chunking = ${chunking}`]);

    // Stored empty, and listed (red team: a writer the pre script started, stopped with it, gave exit 0 and an empty dump).
    const backup = await sandbox.runClient(['-c', config, '-e'], { timeoutMs: 60_000 });
    assert.equal(backup.code, 3, backup.stdout + backup.stderr);
    assert.match(backup.stdout + backup.stderr, /a-unwritten\.fifo: no process had the FIFO open for writing when it was read/);
    assert.doesNotMatch(backup.stdout + backup.stderr, /(b-slow|c-left)\.fifo: no process/);

    const target = join(sandbox.root, 'restored');
    const restore = await sandbox.runClient(['-c', config, '-i', '1', '--to', target]);
    assert.equal(restore.code, 3, restore.stdout + restore.stderr);
    assert.match(restore.stdout + restore.stderr, /incomplete/);
    assert.ok((await lstat(join(target, unwritten))).isFile());
    assert.equal(await readFile(join(target, unwritten), 'utf8'), '');
    assert.equal(await readFile(join(target, slow), 'utf8'), 'late line\n');
    assert.equal(await readFile(join(target, left), 'utf8'), 'left behind\n');
  });
}
