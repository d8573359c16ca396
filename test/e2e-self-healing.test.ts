// Self-healing (issue 16): check marks the chunks it finds damaged; the next backup that holds the same
// bytes stores them again instead of deduplicating against the broken copy, which heals every backup
// that uses them; what nothing can heal, check --repair takes out of its backups and names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sandbox } from './support/sandbox';
import { RECORD_HEADER_SIZE } from '../src/chunkstore/pack/pack-format';
import { writeDeterministicFile } from './support/trees';
import {
  assertCheckClean, assertRestoresExactly, backupNow, chunksOfFile, flipByte, packFile, runCheck, setUpFirstBackup, withCatalog,
} from './support/fault-tools';

const MEBIBYTE = 1024 * 1024;
const SERVER_LINES = ['chunk_min_size = 16384', 'chunk_avg_size = 65536', 'chunk_max_size = 262144'];

async function writeData(data: string): Promise<void> {
  await writeDeterministicFile(join(data, 'first.bin'), 'heal-first', 2 * MEBIBYTE);
  await writeDeterministicFile(join(data, 'second.bin'), 'heal-second', MEBIBYTE + 17);
  await writeFile(join(data, 'note.txt'), 'a small note\n');
}

/** A restarted server listens on a new port: the node's config is written again to point at it. */
async function restartServer(sandbox: Sandbox, lines: readonly string[]): Promise<void> {
  await sandbox.startServer();
  await sandbox.writeNodeConfig('node1', lines);
}

function damagedChunkCount(sandbox: Sandbox): number {
  return withCatalog(sandbox, (database) => (database.prepare('SELECT count(*) AS n FROM chunks WHERE is_damaged = 1').get() as { n: number }).n);
}

for (const chunking of ['server', 'client'] as const) {
  test(`${chunking}-side chunking: a flipped byte is marked by check and healed by the next backup of the unchanged file`, async () => {
    const { sandbox, data, nodeLines, configFile, first } = await setUpFirstBackup({
      serverLines: SERVER_LINES, nodeLines: [`chunking = ${chunking}`], writeData,
    });
    try {
      const victim = chunksOfFile(sandbox, first.number, join(data, 'first.bin'))[1];
      await flipByte(packFile(sandbox, victim.packName), victim.offset + RECORD_HEADER_SIZE + Math.floor(victim.storedSize / 2));
      const found = await runCheck(sandbox, ['--read-data']);
      assert.equal(found.code, 1, found.stdout + found.stderr);
      assert.match(found.stdout, /damaged chunks are marked: the next backup holding the same data stores it again/);
      assert.equal(damagedChunkCount(sandbox), 1);

      // Nothing changed on the client: only the marking makes the server ask for first.bin's bytes again.
      await restartServer(sandbox, nodeLines);
      const second = await backupNow(sandbox, configFile, data);
      await sandbox.runningServer!.stop();

      const healed = chunksOfFile(sandbox, first.number, join(data, 'first.bin'))[1];
      assert.equal(healed.hash, victim.hash);
      assert.notEqual(healed.packName, victim.packName, 'the chunk was stored again in a new pack');
      assert.equal(damagedChunkCount(sandbox), 0);
      await assertCheckClean(sandbox);

      const removed = await runCheck(sandbox, ['--repair']);
      assert.equal(removed.code, 0, removed.stdout + removed.stderr);
      assert.match(removed.stdout, /repair: no file had to be removed/);

      await restartServer(sandbox, nodeLines);
      // Both backups, the damaged one too, restore byte for byte from the healed chunk.
      await assertRestoresExactly(sandbox, configFile, [first, second]);
      await sandbox.runningServer!.stop();
      const collected = await sandbox.runServerCommand(['gc']);
      assert.equal(collected.code, 0, collected.stdout + collected.stderr);
      await assertCheckClean(sandbox);
    } finally {
      await sandbox.destroy();
    }
  });
}

test('a deleted pack: every chunk of it is marked, the next backup stores them all again, gc then deletes the lost pack\'s row', async () => {
  const { sandbox, data, nodeLines, configFile, first } = await setUpFirstBackup({ serverLines: SERVER_LINES, writeData });
  try {
    const lost = chunksOfFile(sandbox, first.number, join(data, 'first.bin'))[0].packName;
    await unlink(packFile(sandbox, lost));
    const found = await runCheck(sandbox, []);
    assert.equal(found.code, 1, found.stdout + found.stderr);
    assert.ok(damagedChunkCount(sandbox) >= 3);

    await restartServer(sandbox, nodeLines);
    const second = await backupNow(sandbox, configFile, data);
    await assertRestoresExactly(sandbox, configFile, [first, second]);
    await sandbox.runningServer!.stop();

    assert.equal(damagedChunkCount(sandbox), 0);
    const collected = await sandbox.runServerCommand(['gc']);
    assert.equal(collected.code, 0, collected.stdout + collected.stderr);
    assert.equal(withCatalog(sandbox, (database) => database.prepare('SELECT count(*) AS n FROM packs WHERE name = ?').get(lost) as { n: number }).n, 0);
    await assertCheckClean(sandbox);
  } finally {
    await sandbox.destroy();
  }
});

test('check --repair takes a file nothing could heal out of its backup, names it, and marks the backup incomplete', async () => {
  const { sandbox, data, nodeLines, configFile, first } = await setUpFirstBackup({ serverLines: SERVER_LINES, writeData });
  try {
    const victim = chunksOfFile(sandbox, first.number, join(data, 'first.bin'))[1];
    await flipByte(packFile(sandbox, victim.packName), victim.offset + RECORD_HEADER_SIZE + Math.floor(victim.storedSize / 2));
    assert.equal((await runCheck(sandbox, ['--read-data'])).code, 1);

    // The file is gone from the client too: no backup can bring its bytes back.
    await rm(join(data, 'first.bin'));
    await restartServer(sandbox, nodeLines);
    const second = await backupNow(sandbox, configFile, data);
    await sandbox.runningServer!.stop();

    const repaired = await runCheck(sandbox, ['--read-data', '--repair']);
    assert.equal(repaired.code, 3, repaired.stdout + repaired.stderr);
    assert.deepEqual(repaired.stdout.split('\n').filter((line) => line.startsWith('removed: ')),
      [`removed: client node1 backup 0000001 ${join(data, 'first.bin')} (its content is lost)`]);
    assert.match(repaired.stdout, /repair: 1 files removed from their backups, which are now marked incomplete/);
    // Repaired: the damaged chunk breaks no file any more. It said DAMAGE FOUND (exit 1) until a gc ran (found by review).
    const afterRepair = await runCheck(sandbox, ['--read-data']);
    assert.equal(afterRepair.code, 0, afterRepair.stdout + afterRepair.stderr);
    assert.match(afterRepair.stdout, /damaged but used by no backup any more \(reclaimed by the next gc, not damage\): 1 chunks/);

    await restartServer(sandbox, nodeLines);
    const listed = await sandbox.runClient(['-c', configFile, '-l', '--json']);
    const backups = JSON.parse(listed.stdout) as { id: number; isComplete: boolean; unreadableFiles: number }[];
    assert.deepEqual(backups.map(({ id, isComplete, unreadableFiles }) => ({ id, isComplete, unreadableFiles })),
      [{ id: 1, isComplete: false, unreadableFiles: 1 }, { id: 2, isComplete: true, unreadableFiles: 0 }]);
    // What is left of backup 1 restores exactly; first.bin is no longer in it, so that restore warns and exits 3.
    const withoutLost = new Map([...first.snapshot].filter(([path]) => path !== 'first.bin'));
    await assertRestoresExactly(sandbox, configFile, [{ ...first, snapshot: withoutLost, isIncomplete: true }, second]);
    await sandbox.runningServer!.stop();

    const collected = await sandbox.runServerCommand(['gc']);
    assert.equal(collected.code, 0, collected.stdout + collected.stderr);
    await assertCheckClean(sandbox);
  } finally {
    await sandbox.destroy();
  }
});
