// A store made with chunks bigger than one restore Data frame (1 MiB): restore sends such a chunk
// decoded alone in frame-sized slices, and files mixing big and small chunks come back exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { Sandbox } from './support/sandbox';
import { fileSha256, writeDeterministicFile } from './support/trees';
import { runNodeMeasured } from './support/rss';

const MEBIBYTE = 1024 * 1024;
const CLIENT_CLI = resolve(__dirname, '..', 'src', 'cli', 'cpsbackup.js');
const SERVER_LINES = ['chunk_min_size = 1572864', 'chunk_avg_size = 2097152', 'chunk_max_size = 4194304'];

test('chunks larger than a Data frame restore byte for byte', async (t) => {
  const sandbox = await Sandbox.create({ serverLines: SERVER_LINES });
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  const sizes = { 'big.bin': 13 * MEBIBYTE + 12_345, 'two-frames.bin': 2 * MEBIBYTE + 1, 'small.bin': 700_000, 'tail.bin': 1_572_864 + 5 };
  const expected = new Map<string, string>();
  for (const [name, size] of Object.entries(sizes)) {
    await writeDeterministicFile(join(data, name), name, size);
    expected.set(name, await fileSha256(join(data, name)));
  }
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const backup = await runNodeMeasured(CLIENT_CLI, ['-c', config, '-e'], join(sandbox.root, 'backup-peak'));
  assert.equal(backup.code, 0, backup.stdout + backup.stderr);
  const target = join(sandbox.root, 'restored');
  const restore = await runNodeMeasured(CLIENT_CLI, ['-c', config, '-i', '--to', target], join(sandbox.root, 'restore-peak'));
  assert.equal(restore.code, 0, restore.stdout + restore.stderr);
  for (const [name, hash] of expected) assert.equal(await fileSha256(join(target, data, name)), hash, `${name} differs`);
});
