// Regression: with read_all_fifos = 1, a read of a FIFO that failed (an errno from its socket) ended
// the whole backup with exit 1 and nothing kept. It must be listed as not in the backup, as a regular
// file's failed read is, the rest kept and restored, and the backup exit 3 (incomplete). Both ways of
// sending content are covered: chunks cut by the client, and bytes streamed for the server to cut.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import { buildFailingFifoReads, FAIL_FROM_READ_VARIABLE, FAILING_FIFO_MARKER } from './support/failing-fifo-reads';

/**
 * A writer blocked on opening the FIFO until the backup opens it for reading, as a dumper would; with
 * `delaySeconds`, it then holds the FIFO open that long before it writes.
 */
function startWriter(fifo: string, content: string, delaySeconds = 0): ChildProcess {
  const script = 'exec 3> "$2"; sleep "$3"; printf "%s" "$1" >&3';
  const writer = spawn('sh', ['-c', script, 'writer', content, fifo, String(delaySeconds)], { stdio: 'ignore' });
  writer.on('error', () => undefined);
  return writer;
}

// 'first': the first read fails (the reads made at once, before the socket's). 'later': the writer holds
// the FIFO open a second before it writes, so the first read finds nothing yet and the failing one is
// the socket's.
for (const [chunking, failing] of [['client', 'first'], ['server', 'first'], ['client', 'later'], ['server', 'later']] as const) {
  test(`a FIFO whose ${failing} read fails is listed, the backup kept incomplete (chunking = ${chunking})`, async (t) => {
    const sandbox = await Sandbox.create();
    const writers: ChildProcess[] = [];
    t.after(async () => {
      for (const writer of writers) writer.kill('SIGKILL');
      await sandbox.destroy();
    });
    const preload = buildFailingFifoReads(sandbox.root);
    if (preload === undefined) {
      t.skip('no C compiler to build the failing read() with');
      return;
    }
    const data = join(sandbox.root, 'data');
    await mkdir(data);
    const fine = join(data, 'a-fine.fifo');
    const failingFifo = join(data, `b-${FAILING_FIFO_MARKER}.fifo`);
    execFileSync('mkfifo', [fine, failingFifo]);
    await writeFile(join(data, 'c-after.txt'), 'walked after the failing FIFO\n');
    writers.push(startWriter(fine, 'fine dump\n'), startWriter(failingFifo, 'never read\n', failing === 'later' ? 1 : 0));
    await sandbox.startServer();
    const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`, 'read_all_fifos = 1', `chunking = ${chunking}`]);

    const backup = await sandbox.runClient(['-c', config, '-e'], { preload, environment: { [FAIL_FROM_READ_VARIABLE]: failing === 'later' ? '2' : '1' } });
    assert.equal(backup.code, 3, backup.stdout + backup.stderr);
    assert.match(backup.stderr, /error: 1 file could not be read and is not in this backup:\n/);
    assert.ok(backup.stderr.includes(`  ${failingFifo}: cannot be read (EIO)\n`), backup.stderr);
    assert.match(backup.stdout, /^Backup 0000001 kept, incomplete: /m);

    const target = join(sandbox.root, 'restored');
    const restore = await sandbox.runClient(['-c', config, '-i', '1', '--to', target]);
    assert.equal(restore.code, 3, restore.stdout + restore.stderr);
    assert.equal(await readFile(join(target, fine), 'utf8'), 'fine dump\n');
    assert.equal(await readFile(join(target, data, 'c-after.txt'), 'utf8'), 'walked after the failing FIFO\n');
    await assert.rejects(readFile(join(target, failingFifo)), { code: 'ENOENT' });
  });
}
