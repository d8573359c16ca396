// ENOSPC inside the store, for real, on small tmpfs mounts (RELIABILITY.md, issue 14): at pack write, at catalog (WAL)
// write and during compaction the error is clean, nothing acknowledged is lost, and the same server goes on once space returns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox, type CommandResult } from './support/sandbox';
import { writeDeterministicFile } from './support/trees';
import { fillLeaving, mountTmpfs, tmpfsRefusal, unmountTmpfs } from './support/tmpfs';
import {
  assertCheckClean, assertRestoresExactly, backupNow, collectionsEnded, listedNumbers, packSizes, reloadClients, waitUntil, type KnownBackup,
} from './support/fault-tools';

const MEBIBYTE = 1024 * 1024;

const refusal = tmpfsRefusal();
if (refusal) process.stdout.write(`# skipping store disk-full tests: ${refusal}\n`);

/** A sandbox whose store folder is a tmpfs of the given size; destroy() unmounts it first. */
async function sandboxOnTmpfs(size: string, options: Parameters<typeof Sandbox.create>[0] = {}): Promise<{ sandbox: Sandbox; destroy(): Promise<void> }> {
  const sandbox = await Sandbox.create(options);
  await mkdir(sandbox.storeDirectory);
  mountTmpfs(sandbox.storeDirectory, size);
  return {
    sandbox,
    async destroy() {
      await sandbox.runningServer?.stop();
      unmountTmpfs(sandbox.storeDirectory);
      await sandbox.destroy();
    },
  };
}

/** The failed backup's CLI said one clear line, no stack trace. */
function assertStoreIsFull(result: CommandResult): void {
  assert.equal(result.code, 1, result.stdout + result.stderr);
  const lines = result.stderr.split('\n').filter((line) => line !== '');
  assert.equal(lines.length, 1, `one clear line, no stack:\n${result.stderr}`);
  assert.match(lines[0], /^cpsbackup: store is full/);
}

async function stagedFiles(sandbox: Sandbox): Promise<string[]> {
  return readdir(join(sandbox.storeDirectory, 'staging')).catch(() => []);
}

// Guards issue 14's full-disk bug: a backup that filled the store left its unfinished pack in place, recording the
// abandonment itself failed (SQLITE_FULL), and every later backup failed with "store is full" until a restart.
test('ENOSPC at pack write: clear error, nothing left staged, and after the source shrinks the same server backs up again, twice over',
  { skip: refusal ?? false }, async (t) => {
    const { sandbox, destroy } = await sandboxOnTmpfs('96m');
    t.after(destroy);
    const data = join(sandbox.root, 'data');
    await writeDeterministicFile(join(data, 'small.bin'), 'small', 4 * MEBIBYTE);
    const server = await sandbox.startServer();
    const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
    const kept: KnownBackup[] = [await backupNow(sandbox, config, data)];

    for (const attempt of [1, 2]) {
      // Bigger than the whole disk: a first pack may be stored (held for a retry), the next one cannot be.
      await writeDeterministicFile(join(data, 'big.bin'), `big-${attempt}`, 112 * MEBIBYTE);
      assertStoreIsFull(await sandbox.runClient(['-c', config, '-e']));
      assert.deepEqual(await stagedFiles(sandbox), [], 'the unfinished pack is gone from staging');
      assert.deepEqual(await listedNumbers(sandbox, config), kept.map((backup) => backup.number), 'the failed backup is not listed');
      await assertRestoresExactly(sandbox, config, kept);

      await unlink(join(data, 'big.bin'));
      await writeFile(join(data, `after-${attempt}.txt`), `written after full disk ${attempt}\n`);
      kept.push(await backupNow(sandbox, config, data));
      assert.equal(sandbox.runningServer, server, 'the same server process took the backup after the source shrank');
    }
    assert.deepEqual(await listedNumbers(sandbox, config), kept.map((backup) => backup.number));
    await assertRestoresExactly(sandbox, config, kept);
    await server.stop();
    await assertCheckClean(sandbox);
  });

/** Files with empty content and 200-byte names: every one is a catalog row, none adds a byte to a pack. */
async function writeManyEmptyFiles(folder: string, count: number): Promise<void> {
  await mkdir(folder, { recursive: true });
  const padding = 'n'.repeat(190);
  for (let start = 0; start < count; start += 500) {
    await Promise.all(Array.from({ length: Math.min(500, count - start) }, (_, offset) =>
      writeFile(join(folder, `${padding}-${String(start + offset).padStart(6, '0')}`), '')));
  }
}

test('ENOSPC at catalog write: a backup whose entries fill the disk fails clearly, and the same server goes on',
  { skip: refusal ?? false }, async (t) => {
    const { sandbox, destroy } = await sandboxOnTmpfs('24m');
    t.after(destroy);
    const data = join(sandbox.root, 'data');
    await writeDeterministicFile(join(data, 'small.bin'), 'small', MEBIBYTE);
    const server = await sandbox.startServer();
    const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
    const kept: KnownBackup[] = [await backupNow(sandbox, config, data)];
    // 8 MiB left: 40,000 entries with long names need more catalog than that, and no pack space at all.
    const ballast = join(sandbox.root, 'store', 'unrelated-ballast');
    await fillLeaving(ballast, 8 * MEBIBYTE);
    await writeManyEmptyFiles(join(data, 'many'), 40_000);

    await t.test('the backup fails with one clear "store is full" line; the earlier backup is intact', async () => {
      assertStoreIsFull(await sandbox.runClient(['-c', config, '-e']));
      assert.match(server.log(), /SQLITE_FULL/, 'it was the catalog that filled the disk');
      assert.deepEqual(await listedNumbers(sandbox, config), [kept[0].number]);
      await assertRestoresExactly(sandbox, config, kept);
    });

    // Regression: the server opened its store without its logger, so the store's own warnings never reached the log.
    await t.test('the store\'s warning that it gave up its space reserve reaches the server log', () => {
      assert.match(server.log(), /gave up the space reserve to record the abandoned backup/);
    });

    await t.test('with fewer files, the same server takes the next backup', async () => {
      await rm(join(data, 'many'), { recursive: true });
      await writeManyEmptyFiles(join(data, 'few'), 200);
      kept.push(await backupNow(sandbox, config, data));
      assert.equal(sandbox.runningServer, server);
      await assertRestoresExactly(sandbox, config, kept);
    });

    await server.stop();
    // Regression: the abandoned backup's entries were deleted in one transaction needing log space in
    // proportion to its rows, more than the disk had; its running row stayed and every open failed.
    await t.test('the store opens again (check, restart) while the disk is still full', async () => {
      await assertCheckClean(sandbox);
    });

    await t.test('once space returns, a restarted server recovers, and every acknowledged backup restores; check is clean', async () => {
      await unlink(ballast);
      await sandbox.startServer();
      await sandbox.writeNodeConfig('node1', [`include = ${data}`]); // the restarted server listens on a new port
      await assertRestoresExactly(sandbox, config, kept);
      await sandbox.runningServer!.stop();
      await assertCheckClean(sandbox);
    });
  });

/** Rewrites a client's record with a new keep; the running server rereads records on SIGHUP. */
async function setKeep(sandbox: Sandbox, client: string, keep: number): Promise<void> {
  await writeFile(join(sandbox.clientsDirectory, client), `ssl_peer_cn = ${client}\nkeep = ${keep}\n`);
  if (sandbox.runningServer !== undefined) await reloadClients(sandbox.runningServer);
}

/** Sum of the sealed packs' sizes. */
async function packBytes(sandbox: Sandbox): Promise<number> {
  let total = 0;
  for (const size of (await packSizes(sandbox)).values()) total += size;
  return total;
}

/** Pack files that appeared between two looks. */
function newPacks(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): string[] {
  return [...after.keys()].filter((file) => !before.has(file));
}

// Guards three bugs this test found: a compaction that hit ENOSPC ended the GC run before the dead packs after it were
// deleted; the pack it could not rewrite was never looked at again (a run only looked at packs its own sweep touched);
// and `cpsbackup -d` reported "store is full" (exit 1) for a deletion it had made, because its GC failed.
test('ENOSPC during compaction: dead packs are deleted first, the compaction without room fails cleanly, nothing is lost, and a later GC finishes once space returns',
  { skip: refusal ?? false }, async (t) => {
    const { sandbox, destroy } = await sandboxOnTmpfs('64m', { clients: [] });
    t.after(destroy);
    await sandbox.addClient('node1', ['keep = 3']);
    const data = join(sandbox.root, 'data');
    await writeDeterministicFile(join(data, 'keep.bin'), 'keep', 8 * MEBIBYTE);
    await writeDeterministicFile(join(data, 'drop-1.bin'), 'drop-1', 16 * MEBIBYTE);
    const server = await sandbox.startServer();
    const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
    const empty = await packSizes(sandbox);
    await backupNow(sandbox, config, data);
    const afterFirst = await packSizes(sandbox);
    const [mixedPack] = newPacks(empty, afterFirst); // 8 MiB kept, 16 MiB to drop: compacted once backup 1 goes
    await unlink(join(data, 'drop-1.bin'));
    await writeDeterministicFile(join(data, 'drop-2.bin'), 'drop-2', 2 * MEBIBYTE);
    await backupNow(sandbox, config, data);
    const [deadPack] = newPacks(afterFirst, await packSizes(sandbox)); // only drop-2: all dead once backup 2 goes
    assert.ok(mixedPack !== undefined && deadPack !== undefined, 'each backup stored a pack of its own');

    // 3 MiB free: deleting the dead pack gives 2 MiB more, still short of the 8 MiB the compaction writes.
    const ballast = join(sandbox.storeDirectory, 'unrelated-ballast');
    await fillLeaving(ballast, 3 * MEBIBYTE);
    await unlink(join(data, 'drop-2.bin'));
    await setKeep(sandbox, 'node1', 1);
    const kept: KnownBackup[] = [await backupNow(sandbox, config, data)]; // retention deletes backups 1 and 2, GC runs
    await waitUntil(() => /gc failed|gc: /.test(server.log()), 'the GC after retention to end');
    const gcLines = server.log().split('\n').filter((line) => /gc failed|gc: /.test(line));
    t.diagnostic(gcLines.map((line) => line.slice(0, 300)).join('\n'));

    await t.test('the compaction fails with "store is full" in the log and leaves nothing staged', async () => {
      assert.match(server.log(), /gc failed: .*store is full/);
      assert.deepEqual(await stagedFiles(sandbox), []);
    });
    await t.test('the dead pack is deleted although the compaction failed (delete before you write)', async () => {
      assert.ok(!(await packSizes(sandbox)).has(deadPack), `${deadPack} is still on disk`);
    });
    await t.test('nothing is lost, and the same server takes the next backup', async () => {
      assert.deepEqual(await listedNumbers(sandbox, config), [kept[0].number]);
      await assertRestoresExactly(sandbox, config, kept);
      await setKeep(sandbox, 'node1', 2);
      await writeFile(join(data, 'small-after.txt'), 'a small change while the disk is nearly full\n');
      kept.push(await backupNow(sandbox, config, data));
      assert.equal(sandbox.runningServer, server);
      await assertRestoresExactly(sandbox, config, kept);
    });
    await t.test('a delete whose GC cannot compact still reports the deletion it made', async () => {
      const deleted = kept.shift()!;
      const collectionsBefore = collectionsEnded(server);
      const result = await sandbox.runClient(['-c', config, '-d', String(deleted.number)]);
      assert.deepEqual(await listedNumbers(sandbox, config), kept.map((backup) => backup.number), 'the backup is deleted');
      assert.equal(result.code, 0, `the delete happened, so it must not report a failure:\n${result.stdout}${result.stderr}`);
      // Its GC runs after the reply (issue 18): it ends, failing or not, while the disk is still full, and the server goes on.
      await waitUntil(() => collectionsEnded(server) > collectionsBefore, 'the GC after the deletion to end');
    });
    await t.test('once space returns, the next GC compacts the pack the failed one could not', async () => {
      await unlink(ballast);
      await setKeep(sandbox, 'node1', 1);
      await writeFile(join(data, 'small-after.txt'), 'space is back\n');
      kept.push(await backupNow(sandbox, config, data)); // deletes the previous backup: GC runs again
      kept.shift();
      await waitUntil(async () => !(await packSizes(sandbox)).has(mixedPack), 'the half-dead pack to be compacted', 20_000);
      assert.ok((await packBytes(sandbox)) < 10 * MEBIBYTE, `${await packBytes(sandbox)} bytes of packs for 8 MiB of live data`);
      await assertRestoresExactly(sandbox, config, kept);
    });
    await server.stop();
    await assertCheckClean(sandbox);
  });
