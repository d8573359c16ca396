// The daemon's scheduled backups run node.conf's scripts as `cpsbackup -e` does: a failing
// backup_script_pre fails the job with nothing committed, backup_script_post runs after every job
// and is told the outcome. In process (the real server in the test process, the daemon's runJob).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startInProcessServer } from './support/in-process-server';
import { runJob } from '../src/client/daemon/daemon-jobs';
import { createLogger } from '../src/common/logger';
import { ScriptFailedError } from '../src/common/errors';

test('daemon jobs: a failing pre script fails the job; the post script hears every outcome', async (t) => {
  const fixture = await startInProcessServer();
  t.after(() => fixture.stop());
  const root = fixture.sandbox.root;
  const data = join(root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'a.txt'), 'daemon data\n');
  const log = join(root, 'post.log');
  const preFails = join(root, 'pre-fails');
  await writeFile(join(root, 'pre.sh'), `#!/bin/sh\nif [ -e '${preFails}' ]; then echo "not now" >&2; exit 2; fi\n`);
  await writeFile(join(root, 'post.sh'), `#!/bin/sh\necho "$* $CPSBACKUP_OUTCOME" >> '${log}'\n`);
  await chmod(join(root, 'pre.sh'), 0o755);
  await chmod(join(root, 'post.sh'), 0o755);
  const config = await fixture.nodeConfig('node1', [`include = ${data}`, `backup_script_pre = ${join(root, 'pre.sh')}`, `backup_script_post = ${join(root, 'post.sh')}`]);
  const lines: string[] = [];
  const context = { config, storage: () => undefined, logger: createLogger('daemon', (line) => { lines.push(line); }) };

  await writeFile(preFails, '');
  await assert.rejects(runJob('complete', context, new AbortController().signal),
    (error: Error) => error instanceof ScriptFailedError && /backup_script_pre .* exited with code 2:\nnot now\n/.test(error.message));
  assert.deepEqual(fixture.server.context.store.listBackups('node1'), []);
  await rm(preFails);
  await runJob('complete', context, new AbortController().signal);
  assert.deepEqual(fixture.server.context.store.listBackups('node1').map((backup) => backup.number), [1], 'the refused run never reached the server');
  assert.deepEqual((await readFile(log, 'utf8')).split('\n').filter(Boolean),
    ['post 1 0 reserved4 reserved5 failure', 'post 0 1 reserved4 reserved5 success']);
  assert.ok(lines.some((line) => /complete: backup 1 committed/.test(line)), lines.join(''));
});

test('daemon jobs: a backup kept incomplete logs each entry it left out and says INCOMPLETE at error level, not "committed" alone', async (t) => {
  const fixture = await startInProcessServer();
  t.after(() => fixture.stop());
  const data = join(fixture.sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'a.txt'), 'daemon data\n');
  const missing = join(fixture.sandbox.root, 'not-there');
  const config = await fixture.nodeConfig('node1', [`include = ${data}`, `include = ${missing}`]);
  const lines: string[] = [];
  await runJob('complete', { config, storage: () => undefined, logger: createLogger('daemon', (line) => { lines.push(line); }) },
    new AbortController().signal);
  const errors = lines.filter((line) => / error /.test(line));
  assert.equal(errors.length, 2, lines.join(''));
  assert.match(errors[0], new RegExp(`complete: not in backup 1: ${missing}: the include does not exist`));
  assert.match(errors[1], /complete: backup 1 committed INCOMPLETE: 1 entry could not be read/);
  assert.ok(!lines.some((line) => / info .*committed/.test(line)), lines.join(''));
});
