// Regression (operator review): with client_can_list = 0 and client_can_delete = 0, `--unprotect 1` was
// refused as "may not protect a backup", naming client_can_list only (client_can_delete came up only once
// that was set); and `-i --to FILE`, a command line naming a file as the restore folder, exited 1 where
// the README's table gives usage errors 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { startInProcessServer } from './support/in-process-server';
import { runNode } from './support/sandbox';

const CLI = resolve(__dirname, '..', 'src', 'cli', 'cpsbackup.js');

test('an unprotect refused says unprotect and names every right it lacks; --to naming a file is a usage error', async (t) => {
  const fixture = await startInProcessServer();
  t.after(() => fixture.stop());
  await fixture.sandbox.addClient('neither', ['client_can_list = 0', 'client_can_delete = 0']);
  await fixture.sandbox.addClient('nodelete', ['client_can_delete = 0']);
  fixture.server.reload();
  const run = async (client: string, args: readonly string[]): Promise<{ code: number | null; stderr: string }> => {
    await fixture.nodeConfig(client, [`include = ${fixture.sandbox.root}`]);
    return runNode(CLI, ['-c', join(fixture.sandbox.root, `${client}.conf`), ...args], 60_000);
  };

  const neither = await run('neither', ['--unprotect', '1']);
  assert.equal(neither.code, 12, neither.stderr);
  assert.match(neither.stderr, /client "neither" may not unprotect a backup .*: client_can_list = 0 and client_can_delete = 0 in its record on the server/);
  const noDelete = await run('nodelete', ['--unprotect', '1']);
  assert.equal(noDelete.code, 12, noDelete.stderr);
  assert.match(noDelete.stderr, /client "nodelete" may not unprotect a backup .*: client_can_delete = 0 in its record on the server/);
  assert.doesNotMatch(noDelete.stderr, /client_can_list/);
  const protect = await run('neither', ['--protect', '1']);
  assert.match(protect.stderr, /may not protect a backup .*: client_can_list = 0 in its record/, 'protect needs only the list right');

  const file = join(fixture.sandbox.root, 'a-file');
  await writeFile(file, 'not a folder\n');
  for (const target of [file, join(file, 'below')]) {
    const restore = await run('node1', ['-i', '--to', target]);
    assert.equal(restore.code, 2, restore.stderr);
    assert.match(restore.stderr, /^cpsbackup: --to .*a-file.*: (exists and is not a folder|a file on its way is not a folder); --to names the folder/);
  }
});
