// Proves deduplication end to end: an unchanged tree sends no content, one changed file is the only
// new content, and every backup still restores as a complete copy of the tree at its time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import { createSampleTree, snapshotTree, treeDifferences, writeDeterministicFile } from './support/trees';
import { pastRacyWindow } from './support/racy-window';

interface ListedBackup { id: number; files: number; logicalBytes: number; newBytes: number; storedBytes: number }

test('unchanged files are references only, a changed file is the only new content, every backup is a full copy', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  const tree = await createSampleTree(data);
  const fileCount = tree.files.length;
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const run = async (args: string[]): Promise<string> => {
    const result = await sandbox.runClient(['-c', config, ...args]);
    assert.equal(result.code, 0, `cpsbackup ${args.join(' ')} failed:\n${result.stdout}${result.stderr}`);
    return result.stdout;
  };
  const listed = async (): Promise<ListedBackup[]> => JSON.parse(await run(['-l', '--json'])) as ListedBackup[];

  const first = await snapshotTree(data);
  await pastRacyWindow(); // files written less than a second before they are read are read again next time
  assert.match(await run(['-e']), /^Backup 0000001 done: /);

  await t.test('a second backup of the unchanged tree reads and stores nothing new', async () => {
    // "(N unchanged)" with N = every file means the client sent references only and read no content.
    assert.match(await run(['-e']), new RegExp(`^Backup 0000002 done: ${fileCount} files \\(${fileCount} unchanged\\), stored 0 B new of 0 B read \\(0 B after compression, sent 0 B\\)`));
    const [backup1, backup2] = await listed();
    assert.equal(backup2.newBytes, 0);
    assert.equal(backup2.storedBytes, 0);
    assert.equal(backup2.logicalBytes, backup1.logicalBytes);
    assert.equal(backup2.files, backup1.files);
  });

  const changedFile = join(data, 'data/small.bin');
  const changedSize = (await stat(changedFile)).size;
  await t.test('after one file changes only its content is new', async () => {
    await writeDeterministicFile(changedFile, 'changed content', changedSize);
    assert.match(await run(['-e']), new RegExp(`^Backup 0000003 done: ${fileCount} files \\(${fileCount - 1} unchanged\\)`));
    const backup3 = (await listed()).find((backup) => backup.id === 3);
    assert.equal(backup3?.newBytes, changedSize);
  });

  await t.test('the newest backup restores the changed tree', async () => {
    const target = join(sandbox.root, 'restored-3');
    await run(['-i', '3', '--to', target]);
    assert.deepEqual(treeDifferences(await snapshotTree(data), await snapshotTree(join(target, data)), { compareFolderTimes: true }), []);
  });

  await t.test('the first backup still restores the original tree', async () => {
    const target = join(sandbox.root, 'restored-1');
    await run(['-i', '1', '--to', target]);
    const restored = await snapshotTree(join(target, data));
    assert.deepEqual(treeDifferences(first, restored, { compareFolderTimes: true }), []);
    assert.notEqual(restored.get('data/small.bin')?.sha256, (await snapshotTree(data)).get('data/small.bin')?.sha256);
  });
});
