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
import { buildFailingFifoReads, FAILING_FIFO_MARKER } from './support/failing-fifo-reads';

/** A writer blocked on opening the FIFO until the backup opens it for reading, as a dumper would. */
function startWriter(fifo: string, content: string): ChildProcess {
  const writer = spawn('sh', ['-c', 'printf "%s" "$1" > "$2"', 'writer', content, fifo], { stdio: 'ignore' });
  writer.on('error', () => undefined);
  return writer;
}

for (const chunking of ['client', 'server'] as const) {
  test(`a FIFO whose read fails is listed, the backup kept incomplete (chunking = ${chunking})`, async (t) => {
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
    const failing = join(data, `b-${FAILING_FIFO_MARKER}.fifo`);
    execFileSync('mkfifo', [fine, failing]);
    await writeFile(join(data, 'c-after.txt'), 'walked after the failing FIFO\n');
    writers.push(startWriter(fine, 'fine dump\n'), startWriter(failing, 'never read\n'));
    await sandbox.startServer();
    const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`, 'read_all_fifos = 1', `chunking = ${chunking}`]);

    const backup = await sandbox.runClient(['-c', config, '-e'], { preload });
    assert.equal(backup.code, 3, backup.stdout + backup.stderr);
    assert.match(backup.stderr, /error: 1 file could not be read and is not in this backup:\n/);
    assert.ok(backup.stderr.includes(`  ${failing}: cannot be read (EIO)\n`), backup.stderr);
    assert.match(backup.stdout, /^Backup 0000001 kept, incomplete: /m);

    const target = join(sandbox.root, 'restored');
    const restore = await sandbox.runClient(['-c', config, '-i', '1', '--to', target]);
    assert.equal(restore.code, 3, restore.stdout + restore.stderr);
    assert.equal(await readFile(join(target, fine), 'utf8'), 'fine dump\n');
    assert.equal(await readFile(join(target, data, 'c-after.txt'), 'utf8'), 'walked after the failing FIFO\n');
    await assert.rejects(readFile(join(target, failing)), { code: 'ENOENT' });
  });
}
