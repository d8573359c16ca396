// The client library against the real server in this process: a backup and a restore through
// runBackup and runRestore, both chunking modes, in a couple of seconds — the fast seam for protocol
// and store tests that need no separate processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runBackup } from '../src/client/uploader';
import { runRestore } from '../src/client/restorer';
import { BackupKind } from '../src/proto/cpsbackup';
import { startInProcessServer } from './support/in-process-server';

test('runBackup and runRestore against an in-process server, chunks cut by the client and by the server', async (t) => {
  const harness = await startInProcessServer(['cuts', 'sends']);
  t.after(() => harness.stop());
  const data = join(harness.sandbox.root, 'data');
  await mkdir(join(data, 'folder'), { recursive: true });
  await writeFile(join(data, 'folder', 'a.txt'), 'alpha\n'.repeat(1000));
  await writeFile(join(data, 'b.bin'), Buffer.alloc(300_000, 7));
  for (const [client, chunking] of [['cuts', 'client'], ['sends', 'server']] as const) {
    const config = await harness.nodeConfig(client, [`include = ${data}`, `chunking = ${chunking}`]);
    const backup = await runBackup(config, { kind: BackupKind.BACKUP_KIND_COMPLETE });
    assert.equal(backup.summary.files, 2, client);
    assert.deepEqual(backup.progress.unreadable, []);
    const target = join(harness.sandbox.root, `restored-${client}`);
    const restored = await runRestore(config, { backupId: 0, to: target });
    assert.deepEqual(restored.failures, [], client);
    assert.equal(await readFile(join(target, data, 'folder', 'a.txt'), 'utf8'), 'alpha\n'.repeat(1000));
    assert.ok((await readFile(join(target, data, 'b.bin'))).equals(Buffer.alloc(300_000, 7)));
  }
  assert.ok(harness.log.some((line) => /backup 1 of cuts committed/.test(line)), harness.log.join(''));
});
