// Regression: a second Ctrl-C while `cpsbackup -e` waited for the server's answer to its commit said
// "interrupted: nothing was committed", exit 130, and the backup then appeared in -l. The real CLI
// against the real server in this process: the server's step after its commit is held (an outcome
// listener's spawnSync blocks this process) while a shell sends the CLI two SIGINTs, so they land after the commit went out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { startInProcessServer } from './support/in-process-server';

const CLI = resolve(__dirname, '..', 'src', 'cli', 'cpsbackup.js');

test('two Ctrl-Cs after the commit was sent say the backup may have been committed, never that nothing was', async (t) => {
  const fixture = await startInProcessServer();
  t.after(() => fixture.stop());
  const data = join(fixture.sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'a.txt'), 'committed while interrupted\n');
  const config = await fixture.nodeConfig('node1', [`include = ${data}`]);

  const child = spawn(process.execPath, [CLI, '-c', config.file, '-e'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = new Promise<number | null>((done) => child.on('close', done));
  let wasHeld = false;
  // Listeners run inside the server's step after its commit, before it answers: the client waits for that answer.
  fixture.server.context.activity.onOutcome((outcome) => {
    if (!outcome.isSuccess) return;
    wasHeld = true;
    spawnSync('sh', ['-c', `kill -INT ${child.pid}; sleep 0.5; kill -INT ${child.pid}; sleep 1`]);
  });

  assert.equal(await exited, 130, stderr);
  assert.ok(wasHeld, 'the signals were sent after the commit');
  assert.equal(stderr, 'interrupted after the commit was sent: the backup may have been committed; check with cpsbackup -l\n');
  assert.deepEqual(fixture.server.context.store.listBackups('node1').map((backup) => backup.number), [1], 'it was committed');
});
