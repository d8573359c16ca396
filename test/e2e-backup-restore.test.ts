// Proves a backup of a varied tree lists, shows and restores byte-identical with modes, mtimes,
// symlinks and empty folders, both into another folder and back to the original paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import { createSampleTree, snapshotTree, treeDifferences } from './support/trees';

const ENTRY_LINE = /^(file|dir|link|dump|fifo|char|block|sock) +(\d{4}) \S+ +(\d+) \d{4}-\d\d-\d\d \d\d:\d\d:\d\d (.+?)(?: -> (.*))?$/;

test('a backup restores byte-identical with metadata, into a folder and to the original paths', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  const tree = await createSampleTree(data);
  const original = await snapshotTree(data);
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const run = async (args: string[]): Promise<string> => {
    const result = await sandbox.runClient(['-c', config, ...args]);
    assert.equal(result.code, 0, `cpsbackup ${args.join(' ')} failed:\n${result.stdout}${result.stderr}`);
    return result.stdout;
  };

  await t.test('-e backs up the tree', async () => {
    const fileCount = tree.files.length;
    assert.match(await run(['-e']), new RegExp(`^Backup 0000001 done: ${fileCount} files \\(0 unchanged\\)`));
  });

  await t.test('-l shows the backup in burp form', async () => {
    assert.match(await run(['-l']), /^Backup: 0000001 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d complete$/m);
  });

  await t.test('-s lists every path with its type and size', async () => {
    const listed = new Map<string, { type: string; mode: string; size: number; target?: string }>();
    const lines = (await run(['-s', '1'])).trim().split('\n');
    assert.match(lines[0], /^Backup: 0000001 .*: \d+ files/);
    for (const line of lines.slice(1)) {
      const match = ENTRY_LINE.exec(line);
      assert.ok(match, `unparsable -s line: ${line}`);
      listed.set(match[4], { type: match[1].trim(), mode: match[2], size: Number(match[3]), target: match[5] });
    }
    for (const [relative, entry] of original) {
      const path = relative === '' ? data : join(data, relative);
      const shown = listed.get(path);
      assert.ok(shown, `-s does not list ${path}`);
      assert.equal(shown.type, entry.type, path);
      assert.equal(shown.size, entry.size, path);
      if (entry.type !== 'link') assert.equal(shown.mode, entry.mode.toString(8).padStart(4, '0'), path);
      if (entry.type === 'link') assert.equal(shown.target, entry.linkTarget, path);
    }
    assert.equal(listed.size, original.size);
  });

  await t.test('-s --json parses and agrees', async () => {
    const shown = JSON.parse(await run(['-s', '1', '--json'])) as {
      backup: { id: number; files: number }; entries: { path: string; type: string; size: number; mode: string; linkTarget?: string }[];
    };
    assert.equal(shown.backup.id, 1);
    assert.equal(shown.backup.files, tree.files.length);
    const byPath = new Map(shown.entries.map((entry) => [entry.path, entry]));
    assert.equal(byPath.size, original.size);
    for (const [relative, entry] of original) {
      const listed = byPath.get(relative === '' ? data : join(data, relative));
      assert.ok(listed, `--json misses ${relative}`);
      assert.equal(listed.type, entry.type);
      assert.equal(listed.size, entry.size);
      if (entry.type === 'link') assert.equal(listed.linkTarget, entry.linkTarget);
    }
  });

  await t.test('-i --to restores an identical tree under the folder', async () => {
    const target = join(sandbox.root, 'restored');
    assert.match(await run(['-i', '--to', target]), /^Restored backup 0000001: /m);
    const restored = await snapshotTree(join(target, data));
    assert.deepEqual(treeDifferences(original, restored, { compareFolderTimes: true }), []);
    assert.equal(restored.get('empty folder')?.type, 'dir');
    assert.equal(restored.get('link to readme')?.linkTarget, 'docs/readme.txt');
  });

  await t.test('-i restores to the original paths after the tree was deleted', async () => {
    await rm(data, { recursive: true });
    assert.match(await run(['-i', '1']), /to the original paths/);
    assert.deepEqual(treeDifferences(original, await snapshotTree(data), { compareFolderTimes: true }), []);
  });
});
