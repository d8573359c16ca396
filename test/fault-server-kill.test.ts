// SIGKILL of the server (issue 7, scenarios 1 and 2): mid-backup at several moments of a big upload,
// and mid-garbage-collection while a delete compacts packs. After a restart every backup committed
// before the kill restores byte for byte, the interrupted one is absent, and check --read-data passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import { writeDeterministicFile } from './support/trees';
import {
  assertCheckClean, assertRestoresExactly, backupNow, collectionsEnded, listedNumbers, packFiles, waitUntil, writtenPackBytes, type KnownBackup,
} from './support/fault-tools';

const MEBIBYTE = 1024 * 1024;

const storedBytes = writtenPackBytes;

// 24 Mbit/s: a 24 MiB file takes about 8 s, so a kill after 20 MiB still lands mid-backup with
// a second to spare; unthrottled, a loaded machine let the whole backup commit before the kill.
const RATE_LIMIT = 'ratelimit = 24';

/** Restarts the server after a kill; the port changes, so the node config is rewritten. */
async function restart(sandbox: Sandbox, data: string, nodeLines: readonly string[] = []): Promise<string> {
  await sandbox.startServer();
  return sandbox.writeNodeConfig('node1', [`include = ${data}`, ...nodeLines]);
}

test('SIGKILL of the server mid-backup, at several moments: earlier backups intact, the interrupted one absent, the next succeeds', async () => {
  const sandbox = await Sandbox.create({ serverLines: ['chunk_min_size = 65536', 'chunk_avg_size = 262144', 'chunk_max_size = 1048576'] });
  const data = join(sandbox.root, 'data');
  try {
    await writeDeterministicFile(join(data, 'base.bin'), 'base', 3 * MEBIBYTE);
    await sandbox.startServer();
    let configFile = await sandbox.writeNodeConfig('node1', [`include = ${data}`, RATE_LIMIT]);
    const committed: KnownBackup[] = [await backupNow(sandbox, configFile, data)];
    // How much of the big file's new data reaches the packs before the kill: from the first byte to nearly all.
    const killAfterBytes = [0, 3 * MEBIBYTE, 10 * MEBIBYTE, 20 * MEBIBYTE];
    for (const [round, threshold] of killAfterBytes.entries()) {
      await writeDeterministicFile(join(data, `big-${round}.bin`), `big-${round}`, 24 * MEBIBYTE);
      const before = await storedBytes(sandbox);
      const server = sandbox.runningServer!;
      const client = sandbox.runClient(['-c', configFile, '-e']);
      await waitUntil(async () => (await storedBytes(sandbox)) > before + threshold, `the store to grow by ${threshold} bytes`);
      await server.stop('SIGKILL');
      const interrupted = await client;
      assert.notEqual(interrupted.code, 0, `round ${round}: the backup cannot succeed without its server`);

      configFile = await restart(sandbox, data, [RATE_LIMIT]);
      assert.deepEqual(await listedNumbers(sandbox, configFile), committed.map((backup) => backup.number),
        `round ${round}: only backups committed before the kill are listed`);
      await assertRestoresExactly(sandbox, configFile, committed.slice(-1));
      committed.push(await backupNow(sandbox, configFile, data));
    }
    assert.deepEqual(await listedNumbers(sandbox, configFile), committed.map((backup) => backup.number));
    await assertRestoresExactly(sandbox, configFile, committed);
    await sandbox.runningServer!.stop();
    await assertCheckClean(sandbox);
  } finally {
    await sandbox.destroy();
  }
});

test('SIGKILL of the server while a delete compacts packs: remaining backups intact, check passes', async (t) => {
  const sandbox = await Sandbox.create({ serverLines: ['keep = 20'] });
  const data = join(sandbox.root, 'data');
  try {
    await sandbox.startServer();
    let configFile = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
    const kept: KnownBackup[] = [];
    // Kill points in one delete: once the deletion is logged (GC starting its sweep), when the compacted pack appears, when the old pack is gone.
    const killWhen: ((created: string[], removed: string[], log: string) => boolean)[] = [
      (_created, _removed, log) => /deleted by request/.test(log),
      (created) => created.length > 0,
      (_created, removed) => removed.length > 0,
    ];
    for (const [round, shouldKill] of killWhen.entries()) {
      // Each round's pack holds 8 MiB that stays live and 20 MiB that only the deleted backup uses: a 28% live pack.
      await writeDeterministicFile(join(data, `kept-${round}.bin`), `kept-${round}`, 8 * MEBIBYTE);
      await writeDeterministicFile(join(data, `dropped-${round}.bin`), `dropped-${round}`, 20 * MEBIBYTE);
      const doomed = await backupNow(sandbox, configFile, data);
      await unlink(join(data, `dropped-${round}.bin`));
      kept.push(await backupNow(sandbox, configFile, data));

      const packsBefore = new Set(await packFiles(sandbox));
      const server = sandbox.runningServer!;
      // The reply does not wait for the GC the deletion makes due (issue 18): the round ends when that GC has.
      const collectionsBefore = collectionsEnded(server);
      const deletion = sandbox.runClient(['-c', configFile, '-d', String(doomed.number)]);
      let seen = '';
      await waitUntil(async () => {
        const now = await packFiles(sandbox);
        const created = now.filter((file) => !packsBefore.has(file));
        const removed = [...packsBefore].filter((file) => !now.includes(file));
        let newBytes = 0;
        for (const file of created) newBytes += await stat(file).then((info) => info.size, () => 0);
        seen = `${created.length} new packs (${newBytes} bytes), ${removed.length} removed`;
        return collectionsEnded(server) > collectionsBefore || shouldKill(created, removed, server.log());
      }, 'garbage collection to start');
      await server.stop('SIGKILL');
      const result = await deletion;
      // Usually the kill lands mid-GC, after the delete's reply; if GC won the race the round still proves restart.
      t.diagnostic(`round ${round}: killed after ${seen}; the delete ${result.code === 0 ? 'had its reply' : 'was cut off'}, `
        + `its GC ${collectionsEnded(server) > collectionsBefore ? 'had ended' : 'had not ended'}`);

      configFile = await restart(sandbox, data);
      const listed = await listedNumbers(sandbox, configFile);
      // The delete is durable before GC starts, so the doomed backup is gone whatever GC had done.
      assert.ok(!listed.includes(doomed.number), `round ${round}: deleted backup ${doomed.number} is back: ${listed}`);
      assert.deepEqual(listed, kept.map((backup) => backup.number));
      await assertRestoresExactly(sandbox, configFile, kept);
      await sandbox.runningServer!.stop();
      await assertCheckClean(sandbox);
      const gc = await sandbox.runServerCommand(['gc']);
      assert.equal(gc.code, 0, gc.stderr);
      await assertCheckClean(sandbox);
      configFile = await restart(sandbox, data);
    }
    await assertRestoresExactly(sandbox, configFile, kept);
  } finally {
    await sandbox.destroy();
  }
});
