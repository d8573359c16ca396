// Proves the store stays intact under load (issue 14, "Done means"): 4 clients × 20 backups under keep = 2, GC after
// every commit that deleted, restores of the latest backups running alongside; everything kept restores, check is clean.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, open, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Sandbox } from './support/sandbox';
import { deterministicBytes, snapshotTree, treeDifferences, writeDeterministicFile } from './support/trees';
import {
  assertCheckClean, assertRestoresExactly, backupNow, listedNumbers, packSizes, type KnownBackup,
} from './support/fault-tools';
import { peakRssOf } from './support/rss';

const MEBIBYTE = 1024 * 1024;
const KIBIBYTE = 1024;
const CLIENTS = ['node1', 'node2', 'node3', 'node4'];
const ROUNDS = 20;
const KEEP = 2;
/** Every client has the same shared file (dedup across clients) and its own file, a region of which changes each round. */
const SHARED_BYTES = MEBIBYTE;
const OWN_BYTES = 2 * MEBIBYTE;
const OWN_REGIONS = 8;
const CHANGED_REGION_BYTES = 64 * KIBIBYTE;
/** A new file each round, last round's removed: what retention's deletions leave for GC. */
const ROUND_FILE_BYTES = 256 * KIBIBYTE;
const RSS_LIMIT_BYTES = 256 * MEBIBYTE;

async function readAll(seed: string, size: number): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for await (const piece of deterministicBytes(seed, size)) pieces.push(piece as Buffer);
  return Buffer.concat(pieces);
}

/** Round 0 creates the tree; each later round rewrites one region of own.bin, adds a round file and drops the last one. */
async function changeTree(root: string, client: string, round: number): Promise<void> {
  if (round === 0) {
    await writeDeterministicFile(join(root, 'shared.bin'), 'shared', SHARED_BYTES);
    await writeDeterministicFile(join(root, 'own.bin'), `${client}-own`, OWN_BYTES);
  } else {
    const handle = await open(join(root, 'own.bin'), 'r+');
    try {
      const offset = (round % OWN_REGIONS) * (OWN_BYTES / OWN_REGIONS);
      await handle.write(await readAll(`${client}-region-${round}`, CHANGED_REGION_BYTES), 0, CHANGED_REGION_BYTES, offset);
    } finally {
      await handle.close();
    }
    await unlink(join(root, `round-${round - 1}.bin`));
  }
  await writeDeterministicFile(join(root, `round-${round}.bin`), `${client}-round-${round}`, ROUND_FILE_BYTES);
  await writeFile(join(root, 'round.txt'), `${client} round ${round}\n`);
}

interface RestoreTally {
  exact: number;
  /** Restores of a backup retention deleted before they began: refused with a clear "not found". */
  refused: number;
  readonly problems: string[];
}

/**
 * Restores the latest backup of each client in turn until `isDone`: a restore that succeeds must be byte for byte;
 * one that fails must say the backup does not exist, and it must indeed be gone.
 */
async function restoreAlongside(sandbox: Sandbox, configs: readonly string[], histories: readonly KnownBackup[][],
  isDone: () => boolean): Promise<RestoreTally> {
  const tally: RestoreTally = { exact: 0, refused: 0, problems: [] };
  for (let turn = 0; !isDone(); turn++) {
    const index = turn % CLIENTS.length;
    const backup = histories[index].at(-1);
    if (backup === undefined) {
      await sleep(100);
      continue;
    }
    const target = await mkdtemp(join(sandbox.root, 'alongside-'));
    try {
      const result = await sandbox.runClient(['-c', configs[index], '-i', String(backup.number), '--to', target]);
      if (result.code === 0) {
        const differences = treeDifferences(backup.snapshot, await snapshotTree(join(target, backup.root)));
        if (differences.length === 0) tally.exact++;
        else tally.problems.push(`${CLIENTS[index]} backup ${backup.number} restored with differences: ${differences.join('; ')}`);
      } else if (/not found|does not exist|no backup/i.test(result.stderr)
        && !(await listedNumbers(sandbox, configs[index])).includes(backup.number)) {
        tally.refused++;
      } else {
        tally.problems.push(`${CLIENTS[index]} backup ${backup.number}: restore exited ${result.code}: ${result.stderr}`);
      }
    } finally {
      await rm(target, { recursive: true, force: true });
    }
  }
  return tally;
}

test(`${CLIENTS.length} clients × ${ROUNDS} backups under keep = ${KEEP}, GC after every deleting commit, restores alongside: all kept backups restore`, async (t) => {
  const sandbox = await Sandbox.create({
    clients: CLIENTS,
    serverLines: [`keep = ${KEEP}`, 'chunk_min_size = 16384', 'chunk_avg_size = 65536', 'chunk_max_size = 262144'],
  });
  t.after(() => sandbox.destroy());
  const server = await sandbox.startServer();
  const roots = CLIENTS.map((client) => join(sandbox.root, 'data', client));
  const configs = await Promise.all(CLIENTS.map((client, index) => sandbox.writeNodeConfig(client, [`include = ${roots[index]}`])));
  const histories: KnownBackup[][] = CLIENTS.map(() => []);
  const started = Date.now();

  let backupsRunning = CLIENTS.length;
  const restoring = restoreAlongside(sandbox, configs, histories, () => backupsRunning === 0);
  // Each client's backups follow one another, as a cron'd node's would; the clients run side by side.
  const backingUp = Promise.all(CLIENTS.map(async (client, index) => {
    try {
      for (let round = 0; round < ROUNDS; round++) {
        await changeTree(roots[index], client, round);
        histories[index].push(await backupNow(sandbox, configs[index], roots[index]));
      }
    } finally {
      backupsRunning--;
    }
  }));
  await backingUp;
  const tally = await restoring;
  const serverPeakBytes = peakRssOf(server.process.pid!);
  const gcLines = server.log().split('\n').filter((line) => / gc: /.test(line));
  const reclaimingGcLines = gcLines.filter((line) => !/ 0 packs deleted, 0 rewritten/.test(line));
  let packBytes = 0;
  for (const size of (await packSizes(sandbox)).values()) packBytes += size;
  t.diagnostic(`${CLIENTS.length * ROUNDS} backups in ${Date.now() - started} ms; restores alongside: ${tally.exact} exact, `
    + `${tally.refused} refused (deleted before they began); ${gcLines.length} GC runs, ${reclaimingGcLines.length} deleted or rewrote packs; `
    + `server peak RSS ${(serverPeakBytes / MEBIBYTE).toFixed(1)} MiB; ${(packBytes / MEBIBYTE).toFixed(1)} MiB of packs at the end`);

  assert.deepEqual(tally.problems, [], 'every restore running beside the backups was exact or cleanly refused');
  assert.ok(tally.exact >= CLIENTS.length, `${tally.exact} restores alongside were exact: too few to prove anything`);
  for (const [index, history] of histories.entries()) {
    const kept = history.slice(-KEEP);
    assert.deepEqual(await listedNumbers(sandbox, configs[index]), kept.map((backup) => backup.number), `${CLIENTS[index]} keeps its last ${KEEP}`);
    await assertRestoresExactly(sandbox, configs[index], kept);
  }
  // From each client's third backup on, every commit deletes one: GC runs (runs asked for meanwhile may merge).
  assert.ok(gcLines.length >= ROUNDS, `only ${gcLines.length} GC runs for ${CLIENTS.length * (ROUNDS - KEEP)} deleting commits`);
  assert.ok(reclaimingGcLines.length > 0, 'GC deleted or rewrote packs');
  // What the kept backups can reference: the shared file, each client's own file with the regions its kept
  // backups changed (a region's chunks reach up to a max-size chunk either side) and their round files. Packs may
  // hold as much dead as live before compaction (below 50 % live), so twice that is the most GC may leave.
  const regionSpan = CHANGED_REGION_BYTES + 2 * 262_144;
  const liveBound = SHARED_BYTES + CLIENTS.length * (OWN_BYTES + KEEP * (regionSpan + ROUND_FILE_BYTES));
  assert.ok(packBytes <= 2 * liveBound, `${packBytes} bytes of packs for at most ${liveBound} live: GC did not keep up`);
  assert.ok(serverPeakBytes < RSS_LIMIT_BYTES, `server peak RSS ${(serverPeakBytes / MEBIBYTE).toFixed(1)} MiB`);
  await server.stop();
  await assertCheckClean(sandbox);
});
