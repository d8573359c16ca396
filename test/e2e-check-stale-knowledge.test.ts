// `cpsbackup-server check` names a client that is told the store holds chunks none of its backups or
// holds references (an answer that would tell it another client stores those bytes; nothing should
// leave such a row), exits 1 for it, and `check --repair` forgets those rows and exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { runCheck, setUpFirstBackup } from './support/fault-tools';

test('check reports a client\'s stale knowledge by name; check --repair forgets it and exits 0', async () => {
  const { sandbox } = await setUpFirstBackup({
    writeData: async (data) => {
      await mkdir(data, { recursive: true });
      await writeFile(join(data, 'note.txt'), 'a note\n');
    },
  });
  try {
    // The server is stopped: a row no path should write, for a chunk node1 never sent.
    const catalog = new Database(join(sandbox.storeDirectory, 'catalog.db'), { fileMustExist: true });
    try {
      catalog.prepare(`INSERT INTO client_chunks (client_id, hash) SELECT id, ? FROM clients WHERE name = 'node1'`).run(randomBytes(32));
    } finally {
      catalog.close();
    }
    const found = await runCheck(sandbox, []);
    assert.equal(found.code, 1, found.stdout + found.stderr);
    assert.match(found.stdout, /^problem: client node1 is told the store holds 1 chunks none of its backups or holds references \(check --repair forgets them\)$/m);

    const repaired = await runCheck(sandbox, ['--repair']);
    assert.equal(repaired.code, 0, repaired.stdout + repaired.stderr);
    assert.match(repaired.stdout, /^repair: clients forgot 1 chunks none of their backups or holds references$/m);

    const after = await runCheck(sandbox, []);
    assert.equal(after.code, 0, after.stdout + after.stderr);
    assert.match(after.stdout, /no errors found/);
  } finally {
    await sandbox.destroy();
  }
});
