// Proves a file far larger than the memory budget backs up and restores identically while the peak
// resident memory of the server and of the client stays under 256 MiB: nothing holds a whole file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { Sandbox } from './support/sandbox';
import { fileSha256, writeDeterministicFile } from './support/trees';
import { peakRssOf, runNodeMeasured } from './support/rss';

const MEBIBYTE = 1024 * 1024;
const CLIENT_CLI = resolve(__dirname, '..', 'src', 'cli', 'cpsbackup.js');
const LIMIT_BYTES = 256 * MEBIBYTE;
const sizeMebibytes = Number(process.env.CPSBACKUP_TEST_LARGE_MIB ?? 256);

test(`a ${sizeMebibytes} MiB file backs up and restores identically with server and client under 256 MiB RSS`, async (t) => {
  assert.ok(Number.isInteger(sizeMebibytes) && sizeMebibytes > 0, 'CPSBACKUP_TEST_LARGE_MIB must be a positive integer');
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  const file = join(data, 'large.bin');
  await writeDeterministicFile(file, 'large file', sizeMebibytes * MEBIBYTE);
  const expectedHash = await fileSha256(file);
  const server = await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const mebibytes = (bytes: number): string => `${(bytes / MEBIBYTE).toFixed(1)} MiB`;

  const started = Date.now();
  const backup = await runNodeMeasured(CLIENT_CLI, ['-c', config, '-e'], join(sandbox.root, 'backup-peak'));
  assert.equal(backup.code, 0, backup.stdout + backup.stderr);
  t.diagnostic(`backup: ${Date.now() - started} ms, client peak RSS ${mebibytes(backup.peakRssBytes)}; ${backup.stdout.trim()}`);

  const target = join(sandbox.root, 'restored');
  const restoreStarted = Date.now();
  const restore = await runNodeMeasured(CLIENT_CLI, ['-c', config, '-i', '--to', target], join(sandbox.root, 'restore-peak'));
  assert.equal(restore.code, 0, restore.stdout + restore.stderr);
  t.diagnostic(`restore: ${Date.now() - restoreStarted} ms, client peak RSS ${mebibytes(restore.peakRssBytes)}`);
  const serverPeak = peakRssOf(server.process.pid!);
  t.diagnostic(`server peak RSS ${mebibytes(serverPeak)}`);

  assert.equal(await fileSha256(join(target, file)), expectedHash, 'restored content differs');
  assert.ok(backup.peakRssBytes < LIMIT_BYTES, `client peak RSS during backup ${mebibytes(backup.peakRssBytes)}`);
  assert.ok(restore.peakRssBytes < LIMIT_BYTES, `client peak RSS during restore ${mebibytes(restore.peakRssBytes)}`);
  assert.ok(serverPeak < LIMIT_BYTES, `server peak RSS ${mebibytes(serverPeak)}`);
});
