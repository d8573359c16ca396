// Proves a paused restore and GC get along (RELIABILITY.md, issue 14): paused (SIGSTOP) while GC compacts the pack it
// reads, it finishes byte for byte; paused while its own backup is deleted and collected, it finishes or says so, never short.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox, type CommandResult } from './support/sandbox';
import { snapshotTree, treeDifferences, writeDeterministicFile } from './support/trees';
import { assertCheckClean, backupNow, packSizes, setUpFirstBackup, waitForLog, waitUntil, type FirstBackup, type KnownBackup } from './support/fault-tools';
import { startClient, type BackgroundClient } from './support/background-client';
import { unnamedFileSizes } from './support/unnamed-files';

const MEBIBYTE = 1024 * 1024;
// About 2,500 chunks in 40 MiB: a file's chunk list is read in pages while it streams.
const SMALL_CHUNKS = ['chunk_min_size = 4096', 'chunk_avg_size = 16384', 'chunk_max_size = 65536'];

interface PausedSetUp extends FirstBackup {
  /** Stops the restore pausedRestore started, if any, at the end of the test. */
  readonly restoring: { stop(): Promise<unknown> };
}

/** The first backup, the server kept running; the test's end stops a paused restore left running, then destroys the sandbox. */
async function setUpPaused(t: TestContext, writeData: (data: string) => Promise<void>, serverLines?: readonly string[]): Promise<PausedSetUp> {
  // A stopped restore answers no ping: past the server's network_timeout its call would be closed, and these
  // tests are about GC beside a paused reader, so pings wait long.
  const setUp = await setUpFirstBackup({ serverLines: [...serverLines ?? [], 'network_timeout = 3600'], writeData, isServerKept: true });
  const restoring: { stop(): Promise<unknown> } = { stop: async () => undefined };
  t.after(async () => {
    await restoring.stop();
    await setUp.sandbox.destroy();
  });
  return { ...setUp, restoring };
}

/** Bytes of every regular file under folder, and of the files without a name the restore `pid` writes there (O_TMPFILE). */
async function bytesUnder(folder: string, pid: number | undefined): Promise<number> {
  let total = (await unnamedFileSizes(pid, folder)).reduce((sum, size) => sum + size, 0);
  for (const entry of await readdir(folder, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (entry.isFile()) total += await stat(join(entry.parentPath, entry.name)).then((info) => info.size, () => 0);
  }
  return total;
}

/**
 * What a restore paused while its own backup was deleted may do once resumed: finish byte for byte, or fail saying the
 * backup was deleted; never claim success with files missing, nor report damage to a store that has none.
 */
async function assertFinishedOrRefused(sandbox: Sandbox, result: CommandResult, backup: KnownBackup, target: string): Promise<void> {
  const differences = treeDifferences(backup.snapshot, await snapshotTree(join(target, backup.root)));
  if (result.code === 0) assert.deepEqual(differences, [], `the restore reported success:\n${result.stdout}`);
  else assert.match(result.stderr, /was deleted while it was being read/);
  assert.doesNotMatch(result.stderr, /damaged/);
  assert.doesNotMatch(sandbox.runningServer!.log(), /damaged content/);
}

/** Starts a restore of backup into target and pauses it (SIGSTOP) once it has written minBytes. */
async function pausedRestore(config: string, backup: KnownBackup, target: string, minBytes: number,
  cleanup: { stop(): Promise<unknown> }): Promise<BackgroundClient> {
  const client = startClient(['-c', config, '-i', String(backup.number), '--to', target]);
  cleanup.stop = () => client.stop();
  await waitUntil(async () => (await bytesUnder(target, client.child.pid)) >= minBytes || !client.isRunning(), 'the restore to be writing', 30_000);
  client.child.kill('SIGSTOP');
  assert.ok(client.isRunning(), 'the restore was caught in the middle (it had already ended: nothing was tested)');
  return client;
}

test('a restore paused while a delete and GC compact the pack it reads finishes byte for byte once resumed', async (t) => {
  // Small chunks: the file's chunk list is read in pages while it streams, some after the move.
  const { sandbox, data, server, configFile: config, first, restoring } = await setUpPaused(t, async (folder) => {
    // 40 MiB the next backup drops, then 40 MiB it keeps: the first 64 MiB pack holds 24 MiB of the kept file (37 % live
    // once the first backup goes, so it is compacted), the second the rest. Restoring 40 MiB outlasts what the client
    // and the sockets buffer ahead of a paused restore (about 20 MiB here), so the server is still reading when paused.
    await writeDeterministicFile(join(folder, 'a-drop.bin'), 'drop', 40 * MEBIBYTE);
    await writeDeterministicFile(join(folder, 'b-keep.bin'), 'keep', 40 * MEBIBYTE);
  }, SMALL_CHUNKS);
  const firstPacks = [...(await packSizes(sandbox)).keys()];
  await unlink(join(data, 'a-drop.bin'));
  const second = await backupNow(sandbox, config, data);

  const target = join(sandbox.root, 'restored');
  const client = await pausedRestore(config, second, target, 2 * MEBIBYTE, restoring);
  const writtenAtPause = await bytesUnder(target, client.child.pid);
  const deletion = await sandbox.runClient(['-c', config, '-d', String(first.number)]);
  assert.equal(deletion.code, 0, deletion.stderr);
  // GC runs after the deletion's reply: waited for, with the restore still paused.
  await waitForLog(server, / gc: .* 1 rewritten/, 'GC to compact the pack the restore reads');
  const present = await packSizes(sandbox);
  assert.deepEqual(firstPacks.filter((pack) => !present.has(pack)), [],
    'the compacted pack stays while a restore that read chunk places in it may still read it');
  assert.equal(await bytesUnder(target, client.child.pid), writtenAtPause, 'the restore was really paused');

  client.child.kill('SIGCONT');
  const result = await client.result;
  assert.equal(result.code, 0, `the resumed restore failed:\n${result.stdout}${result.stderr}`);
  assert.deepEqual(treeDifferences(second.snapshot, await snapshotTree(join(target, data))), []);
  const gone = async (): Promise<string[]> => {
    const now = await packSizes(sandbox);
    return firstPacks.filter((pack) => !now.has(pack));
  };
  await waitUntil(async () => (await gone()).length === 1, 'the compacted pack to be deleted once the restore ended', 20_000);
  await server.stop();
  await assertCheckClean(sandbox);
});

// Regression: the content of a big file is listed a page of chunks at a time; GC dropping it after its backup was
// deleted cut the list short, and the restore reported "the store is damaged: reassembled content is … bytes".
test('a restore paused mid-file while its own backup is deleted and collected finishes or says the backup was deleted', async (t) => {
  const { sandbox, server, configFile: config, first: only, restoring } = await setUpPaused(t, async (folder) => {
    // 40 MiB in 16 KiB chunks: its chunk list takes 5 pages, of which the paused restore has read only the first.
    await writeDeterministicFile(join(folder, 'b-keep.bin'), 'keep', 40 * MEBIBYTE);
    await writeDeterministicFile(join(folder, 'c-after.bin'), 'after', MEBIBYTE);
  }, SMALL_CHUNKS);

  const target = join(sandbox.root, 'restored');
  const client = await pausedRestore(config, only, target, 2 * MEBIBYTE, restoring);
  const deletion = await sandbox.runClient(['-c', config, '-d', String(only.number), '--force']);
  assert.equal(deletion.code, 0, deletion.stderr);
  await waitForLog(server, / gc: [1-9]\d* chunks/, 'GC to drop the deleted backup\'s chunks while the restore is paused');
  client.child.kill('SIGCONT');
  const result = await client.result;
  t.diagnostic(`restore exited ${result.code}: ${result.stdout}${result.stderr}`);
  await assertFinishedOrRefused(sandbox, result, only, target);
  await server.stop();
  await assertCheckClean(sandbox);
});

// Regression: entries are read 1,000 at a time, and a backup deleted meanwhile read as one that ended there: a restore
// said "Restored backup 0000001: 6999 files" and exited 0, with 3,001 of 10,000 files missing.
test('a restore paused while its own backup is deleted never ends early as if complete', async (t) => {
  // A 48 MiB file first, which an older backup shares (so GC leaves its content alone), then 2,500 small files: the
  // restore is paused early in the big file, long before the server reads the second and third pages of entries.
  const { sandbox, data, server, configFile: config, restoring } = await setUpPaused(t, async (folder) => {
    await writeDeterministicFile(join(folder, 'a-big.bin'), 'big', 48 * MEBIBYTE);
  });
  for (let index = 0; index < 2500; index++) {
    await writeDeterministicFile(join(data, `f-${String(index).padStart(5, '0')}.bin`), `file-${index}`, 4096);
  }
  const newest = await backupNow(sandbox, config, data);

  const target = join(sandbox.root, 'restored');
  const client = await pausedRestore(config, newest, target, 2 * MEBIBYTE, restoring);
  const deletion = await sandbox.runClient(['-c', config, '-d', String(newest.number), '--force']);
  assert.equal(deletion.code, 0, deletion.stderr);
  client.child.kill('SIGCONT');
  const result = await client.result;
  t.diagnostic(`restore exited ${result.code}: ${result.stdout}${result.stderr}`);
  await assertFinishedOrRefused(sandbox, result, newest, target);
  await server.stop();
  await assertCheckClean(sandbox);
});
