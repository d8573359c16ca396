// Regression (review of pack intents): the offline commands opened the store without a logger, so what its
// start warns about (packs kept because the catalog does not name them, packs the catalog names that are
// gone) was said by the server only: `check`, `gc`, `retention` and `protect` said nothing of it. They now
// print the store's warnings on stderr, one line each and no stack, and their stdout reads as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { backupFiles, bytesOf } from './support/store-fixture';
import { Sandbox } from './support/sandbox';
import { loadServerConfig } from '../src/common/config/server-config';
import { openConfiguredStore } from '../src/server/open-store';

const UNKNOWN = '5a'.repeat(16);

/** Each command and the line its stdout must start with, as before the store had a logger. */
const COMMANDS: readonly { readonly args: readonly string[]; readonly stdout: RegExp }[] = [
  { args: ['check'], stdout: /^checked \d+ packs, \d+ chunks, \d+ contents, \d+ backups; 0 chunks read and re-hashed\n/ },
  { args: ['protect', 'node1', '1'], stdout: /^backup 0000001 of node1 protected: retention and -d skip it\n$/ },
  { args: ['retention'], stdout: /^node1 0000001 .* kept: .*\n(.*\n)*0 backups removed; 0 bytes freed\n$/ },
  { args: ['gc'], stdout: /^gc: 1 pack .*\ngc: deleted \d+ contents, \d+ chunks, \d+ packs; rewrote \d+ packs; freed \d+ bytes\n$/ },
];

test('check, gc, retention and protect print the store\'s start warnings on stderr, one line each, and keep their stdout', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const store = await openConfiguredStore(loadServerConfig(sandbox.serverConfigFile), { encoderThreads: 0 });
  await backupFiles(store, 'node1', { '/a.bin': await bytesOf('a', 50_000) });
  await backupFiles(store, 'node1', { '/b.bin': await bytesOf('b', 50_000) });
  await store.close();
  // One pack nobody announced (kept, named), and one the catalog names taken away (marked lost).
  await mkdir(join(sandbox.storeDirectory, 'packs', '5a'), { recursive: true });
  await writeFile(join(sandbox.storeDirectory, 'packs', '5a', `${UNKNOWN}.pack`), Buffer.alloc(1000, 1));
  const folders = (await readdir(join(sandbox.storeDirectory, 'packs'))).filter((folder) => folder !== '5a');
  const [lost] = await readdir(join(sandbox.storeDirectory, 'packs', folders[0]));
  await rm(join(sandbox.storeDirectory, 'packs', folders[0], lost));

  for (const { args, stdout } of COMMANDS) {
    const result = await sandbox.runServerCommand(args);
    const what = `${args.join(' ')}: ${result.stdout}${result.stderr}`;
    assert.match(result.stdout, stdout, what);
    const lines = result.stderr.split('\n').filter((line) => line !== '');
    assert.ok(lines.every((line) => line.startsWith('cpsbackup-server: ')), what);
    assert.equal(lines.filter((line) => line.startsWith('cpsbackup-server: warning: 1 pack (1000 bytes) in ')
      && line.includes(`is in no catalog row and no crash of this store left it (${UNKNOWN})`)).length, 1, what);
    // Its row stays (marked lost) until a gc finds no chunk left in it: every start says so again.
    assert.equal(lines.filter((line) => /^cpsbackup-server: warning: 1 packs the catalog names are not in /.test(line)).length, 1, what);
  }
});
