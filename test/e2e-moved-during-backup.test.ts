// Files and folders moved during a backup, from a folder the walk had not reached into one it had
// listed: the backup must hold them in their new place (the walk's end looks again at changed
// folders), the server must take those late entries after the rest (and beside carried runs of a
// parent), and the restore must give back the tree as it was when the backup ended, nothing missing
// and nothing twice, whichever side chunks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readlinkSync, renameSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runBackup } from '../src/client/uploader';
import { runRestore } from '../src/client/restorer';
import { BackupKind } from '../src/proto/cpsbackup';
import * as atModule from '../src/client/posix/at';
import { startInProcessServer } from './support/in-process-server';
import { compareTrees } from './support/trees';
import { pastRacyWindow } from './support/racy-window';

/** Runs `change` once, just before the walk lists the folder at `path` (opened and sent, not yet listed); returns whether it ran. */
async function backupChangingBeforeListing(path: string, change: () => void, backup: () => ReturnType<typeof runBackup>)
  : Promise<{ result: Awaited<ReturnType<typeof runBackup>>; hasChanged: boolean }> {
  const at = atModule as { readFolderInodesAt: typeof atModule.readFolderInodesAt };
  const readFolderInodesAt = at.readFolderInodesAt;
  let hasChanged = false;
  at.readFolderInodesAt = (dirfd) => {
    if (!hasChanged && readlinkSync(`/proc/self/fd/${dirfd}`) === path) {
      hasChanged = true;
      change();
    }
    return readFolderInodesAt(dirfd);
  };
  try {
    return { result: await backup(), hasChanged };
  } finally {
    at.readFolderInodesAt = readFolderInodesAt;
  }
}

test('files and a folder moved mid-backup from a folder not yet walked into one walked are in the backup, in their new place, and restore exactly', async (t) => {
  const harness = await startInProcessServer(['node1']);
  t.after(() => harness.stop());
  for (const chunking of ['client', 'server'] as const) {
    const data = join(harness.sandbox.root, `data-${chunking}`);
    await mkdir(join(data, 'a'), { recursive: true });
    for (let index = 0; index < 30; index++) await writeFile(join(data, 'a', `f${String(index).padStart(2, '0')}`), `file ${index}\n`.repeat(index + 1));
    await mkdir(join(data, 'z', 'project', 'src'), { recursive: true });
    await writeFile(join(data, 'z', 'report.pdf'), Buffer.alloc(300_000, 7));
    await writeFile(join(data, 'z', 'project', 'src', 'main.c'), 'int main(void) { return 0; }\n');
    const config = await harness.nodeConfig('node1', [`include = ${data}`, `chunking = ${chunking}`]);
    await pastRacyWindow();
    const parent = await runBackup(config, { kind: BackupKind.BACKUP_KIND_COMPLETE });
    assert.deepEqual(parent.progress.unreadable, []);

    // z is listed after a was walked: a user files the report and the project under a meanwhile.
    const { result: backup, hasChanged } = await backupChangingBeforeListing(join(data, 'z'), () => {
      renameSync(join(data, 'z', 'report.pdf'), join(data, 'a', 'report.pdf'));
      renameSync(join(data, 'z', 'project'), join(data, 'a', 'project'));
    }, () => runBackup(config, { kind: BackupKind.BACKUP_KIND_COMPLETE }));
    assert.ok(hasChanged, `${chunking}: the move happened mid-walk`);
    assert.deepEqual(backup.progress.unreadable, [], `${chunking}: nothing reported missing`);
    assert.deepEqual(backup.progress.warnings, ['2 entries made or moved into 1 folder after the walk listed it: read when the walk ended, in this backup']);
    assert.equal(backup.progress.carriedFiles, 30, `${chunking}: a's files still travel as a carried run beside the late entries`);

    const target = join(harness.sandbox.root, `restored-${chunking}`);
    const restored = await runRestore(config, { backupId: backup.summary.backupId, to: target });
    assert.deepEqual(restored.failures, []);
    assert.deepEqual(await compareTrees(data, join(target, data)), [],
      `${chunking}: the restore is the tree as the backup ended, the moved entries in their new place`);
    await rm(target, { recursive: true, force: true });
  }
});
