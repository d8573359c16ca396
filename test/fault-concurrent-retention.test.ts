// Two clients backing up at once while retention (keep=2) deletes and GC compacts after every commit
// (issue 7, scenario 7): different data with a shared part, restores running meanwhile; every backup
// retention keeps restores byte for byte and check --read-data passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import { writeDeterministicFile } from './support/trees';
import { assertCheckClean, assertRestoresExactly, backupNow, listedNumbers, restoreDifferences, type KnownBackup } from './support/fault-tools';

const MEBIBYTE = 1024 * 1024;
const ROUNDS = 5;

test('two clients back up at once under keep=2 with GC after every commit: all kept backups restore', async (t) => {
  const sandbox = await Sandbox.create({
    clients: ['node1', 'node2'],
    serverLines: ['keep = 2', 'chunk_min_size = 16384', 'chunk_avg_size = 65536', 'chunk_max_size = 262144'],
  });
  try {
    await sandbox.startServer();
    const clients = ['node1', 'node2'];
    const roots = clients.map((name) => join(sandbox.root, `data-${name}`));
    const configFiles = await Promise.all(clients.map((name, index) => sandbox.writeNodeConfig(name, [`include = ${roots[index]}`])));
    const history: KnownBackup[][] = [[], []];
    for (let round = 0; round < ROUNDS; round++) {
      for (const [index, root] of roots.entries()) {
        // The same shared file in both trees (dedup across clients), a file of its own that changes every round,
        // and each round's old file removed so retention's deletions leave chunks to collect and packs to compact.
        await writeDeterministicFile(join(root, 'shared.bin'), 'shared', 2 * MEBIBYTE);
        await writeDeterministicFile(join(root, `round-${round}.bin`), `${clients[index]}-${round}`, 3 * MEBIBYTE);
        if (round > 0) await unlink(join(root, `round-${round - 1}.bin`));
      }
      const restoring = round > 0 ? restoreDifferences(sandbox, configFiles[0], history[0][round - 1]) : Promise.resolve([]);
      const made = await Promise.all(roots.map((root, index) => backupNow(sandbox, configFiles[index], root)));
      made.forEach((backup, index) => history[index].push(backup));
      assert.deepEqual(await restoring, [], `round ${round}: a restore running beside two backups and GC is exact`);
    }
    for (const [index, configFile] of configFiles.entries()) {
      const kept = history[index].slice(-2);
      assert.deepEqual(await listedNumbers(sandbox, configFile), kept.map((backup) => backup.number), `${clients[index]} keeps its last 2`);
      await assertRestoresExactly(sandbox, configFile, kept);
    }
    const log = sandbox.runningServer!.log();
    assert.match(log, /retention for node1: deleted backups/);
    assert.match(log, /retention for node2: deleted backups/);
    const collections = log.split('\n').filter((line) => / gc: /.test(line));
    t.diagnostic(`${collections.length} GC runs; last: ${collections.at(-1)?.replace(/^.* gc: /, '')}`);
    assert.ok(collections.some((line) => !/ 0 chunks, 0 packs deleted, 0 rewritten/.test(line)), 'GC reclaimed something while backups ran');
    await sandbox.runningServer!.stop();
    await assertCheckClean(sandbox);
  } finally {
    await sandbox.destroy();
  }
});
