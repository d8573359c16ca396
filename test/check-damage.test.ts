// check and restore against a damaged store (issue 7, scenarios 5 and 6): one flipped byte, a truncated
// pack and a deleted pack are each named by check with exactly the chunks, backups and files they break,
// and a restore refuses those files loudly (exit 3) while every other file restores byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, readdir, rename, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import { RECORD_HEADER_SIZE } from '../src/chunkstore/pack/pack-format';
import { writeDeterministicFile, snapshotTree, treeDifferences } from './support/trees';
import {
  assertCheckClean, backupNow, chunksOfFile, flipByte, packFile, runCheck, type KnownBackup,
} from './support/fault-tools';

const MEBIBYTE = 1024 * 1024;
// Small chunks so each file spans several chunks and damage to one chunk is one file's problem.
const SERVER_LINES = ['chunk_min_size = 16384', 'chunk_avg_size = 65536', 'chunk_max_size = 262144'];

interface Fixture {
  readonly sandbox: Sandbox;
  readonly configFile: string;
  readonly data: string;
  /** Backup 1: first.bin, second.bin, note.txt; backup 2 adds third.bin (stored in a pack of its own). */
  readonly backups: readonly KnownBackup[];
}

async function twoBackups(): Promise<Fixture> {
  const sandbox = await Sandbox.create({ serverLines: SERVER_LINES });
  const data = join(sandbox.root, 'data');
  await writeDeterministicFile(join(data, 'first.bin'), 'first', 2 * MEBIBYTE);
  await writeDeterministicFile(join(data, 'second.bin'), 'second', MEBIBYTE + 17);
  await writeFile(join(data, 'note.txt'), 'a small note\n');
  await sandbox.startServer();
  const configFile = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const first = await backupNow(sandbox, configFile, data);
  await writeDeterministicFile(join(data, 'third.bin'), 'third', MEBIBYTE);
  const second = await backupNow(sandbox, configFile, data);
  await sandbox.runningServer!.stop();
  await assertCheckClean(sandbox);
  return { sandbox, configFile, data, backups: [first, second] };
}

function lines(output: string, prefix: string): string[] {
  return output.split('\n').filter((line) => line.startsWith(prefix)).sort();
}

function affectedLines(clientName: string, files: [number, string][]): string[] {
  return files.map(([number, path]) => `affected file: client ${clientName} backup ${String(number).padStart(7, '0')} ${path}`).sort();
}

/** Restores a backup after damage: the named files fail with a message naming them, every other one is exact. */
async function assertRestoreRefuses(fixture: Fixture, backup: KnownBackup, damagedNames: readonly string[]): Promise<void> {
  const { sandbox, configFile, data } = fixture;
  const target = join(sandbox.root, `restore-${backup.number}`);
  const result = await sandbox.runClient(['-c', configFile, '-i', String(backup.number), '--to', target]);
  const expectedCode = damagedNames.length > 0 ? 3 : 0;
  assert.equal(result.code, expectedCode, `restore should exit ${expectedCode}:\n${result.stdout}${result.stderr}`);
  const errors = result.stderr.split('\n').filter((line) => line.startsWith('error: '));
  assert.equal(errors.length, damagedNames.length, result.stderr);
  for (const name of damagedNames) {
    assert.ok(errors.some((line) => line.includes(join(target, data, name)) && /damaged/.test(line)), `no error naming ${name}:\n${result.stderr}`);
  }
  const expected = new Map([...backup.snapshot].filter(([path]) => !damagedNames.includes(path)));
  const restoredRoot = join(target, data);
  const differences = treeDifferences(expected, await snapshotTree(restoredRoot));
  assert.deepEqual(differences, [], 'undamaged files restore byte for byte, damaged ones are absent under their names');
  // Neither the final name nor a temporary file of a refused file is left behind.
  assert.deepEqual((await readdir(restoredRoot)).filter((name) => name.includes('cpsbackup-')), []);
  await rm(target, { recursive: true, force: true });
}

test('one flipped byte: check --read-data names the chunk and every file holding it; restore refuses only that file', async () => {
  const fixture = await twoBackups();
  const { sandbox, data } = fixture;
  try {
    const chunks = chunksOfFile(sandbox, 1, join(data, 'first.bin'));
    assert.ok(chunks.length >= 3, `first.bin should span several chunks, got ${chunks.length}`);
    const victim = chunks[1];
    await flipByte(packFile(sandbox, victim.packName), victim.offset + RECORD_HEADER_SIZE + Math.floor(victim.storedSize / 2));

    // The header is intact, so only reading the data can see this damage.
    assert.equal((await runCheck(sandbox, [])).code, 0);
    const result = await runCheck(sandbox, ['--read-data']);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.deepEqual(lines(result.stdout, 'damaged chunk'),
      [`damaged chunk ${victim.hash} in pack ${victim.packName} at offset ${victim.offset}: content does not match its hash`]);
    assert.deepEqual(lines(result.stdout, 'affected file'),
      affectedLines('node1', [[1, join(data, 'first.bin')], [2, join(data, 'first.bin')]]));
    assert.match(result.stdout, /DAMAGE FOUND: 1 damaged chunks/);

    await sandbox.startServer();
    await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
    for (const backup of fixture.backups) await assertRestoreRefuses(fixture, backup, ['first.bin']);
  } finally {
    await sandbox.destroy();
  }
});

test('a flipped byte in the last chunk of a streamed file fails that file only; the files after it restore', async () => {
  // The restorer reads a streamed file's next frame before it writes the current one; a failure on the
  // last frame once made it read past the entry's end and abort the whole restore (exit 1).
  const fixture = await twoBackups();
  const { sandbox, data } = fixture;
  try {
    const chunks = chunksOfFile(sandbox, 1, join(data, 'first.bin'));
    const victim = chunks[chunks.length - 1];
    await flipByte(packFile(sandbox, victim.packName), victim.offset + RECORD_HEADER_SIZE + Math.floor(victim.storedSize / 2));
    await sandbox.startServer();
    await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
    for (const backup of fixture.backups) await assertRestoreRefuses(fixture, backup, ['first.bin']);
  } finally {
    await sandbox.destroy();
  }
});

test('a truncated pack: check names the chunks past its end and their files; restore refuses only those', async () => {
  const fixture = await twoBackups();
  const { sandbox, data } = fixture;
  try {
    // second.bin was written after first.bin in backup 1's pack: cutting into its last chunk breaks it alone.
    const chunks = chunksOfFile(sandbox, 1, join(data, 'second.bin'));
    const last = chunks[chunks.length - 1];
    const firstChunks = chunksOfFile(sandbox, 1, join(data, 'first.bin'));
    assert.ok(firstChunks.every((chunk) => chunk.packName === last.packName && chunk.offset < last.offset), 'fixture: one pack, first.bin before second.bin');
    const pack = packFile(sandbox, last.packName);
    const packSize = (await lstat(pack)).size;
    assert.equal(last.offset + RECORD_HEADER_SIZE + last.storedSize, packSize, 'fixture: second.bin ends the pack');
    await truncate(pack, last.offset + 100);

    for (const args of [[], ['--read-data']]) {
      const result = await runCheck(sandbox, args);
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.deepEqual(lines(result.stdout, 'damaged chunk').map((line) => line.split(':')[0]),
        [`damaged chunk ${last.hash} in pack ${last.packName} at offset ${last.offset}`]);
      assert.match(result.stdout, /problem: pack \w+ is truncated/);
      assert.deepEqual(lines(result.stdout, 'affected file'),
        affectedLines('node1', [[1, join(data, 'second.bin')], [2, join(data, 'second.bin')]]));
    }

    await sandbox.startServer();
    await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
    for (const backup of fixture.backups) await assertRestoreRefuses(fixture, backup, ['second.bin']);
  } finally {
    await sandbox.destroy();
  }
});

test('a deleted pack: check names each of its chunks and the files of the backup that needs it; the older backup is untouched', async () => {
  const fixture = await twoBackups();
  const { sandbox, data } = fixture;
  try {
    const chunks = chunksOfFile(sandbox, 2, join(data, 'third.bin'));
    const packNames = new Set(chunks.map((chunk) => chunk.packName));
    assert.equal(packNames.size, 1, 'fixture: third.bin lives in backup 2\'s own pack');
    const [packName] = packNames;
    assert.ok(!chunksOfFile(sandbox, 1, join(data, 'first.bin')).some((chunk) => chunk.packName === packName));
    await unlink(packFile(sandbox, packName));

    const result = await runCheck(sandbox, ['--read-data']);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.deepEqual(lines(result.stdout, 'damaged chunk'),
      chunks.map((chunk) => `damaged chunk ${chunk.hash} in pack ${packName} at offset ${chunk.offset}: pack is missing`).sort());
    assert.match(result.stdout, new RegExp(`problem: pack ${packName} is missing`));
    assert.deepEqual(lines(result.stdout, 'affected file'), affectedLines('node1', [[2, join(data, 'third.bin')]]));
    assert.deepEqual(lines(result.stdout, 'affected backup'), ['affected backup: client node1 backup 0000002 (1 damaged files)']);

    await sandbox.startServer();
    await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
    await assertRestoreRefuses(fixture, fixture.backups[1], ['third.bin']);
    await assertRestoreRefuses(fixture, fixture.backups[0], []);
  } finally {
    await sandbox.destroy();
  }
});

// Review: a mark stayed after its cause had passed (a pack missing for a while, then put back), and
// check --repair took out of their backups files that a check just before had read back whole.
test('a pack missing for a while and then back: the next check, with or without read-data, clears the marks; --repair removes nothing', async () => {
  const fixture = await twoBackups();
  const { sandbox, data } = fixture;
  try {
    const chunks = chunksOfFile(sandbox, 2, join(data, 'third.bin'));
    const [packName] = new Set(chunks.map((chunk) => chunk.packName));
    const away = `${packFile(sandbox, packName)}.away`;
    await rename(packFile(sandbox, packName), away);
    const missing = await runCheck(sandbox, []);
    assert.equal(missing.code, 1, missing.stdout + missing.stderr);
    assert.deepEqual(lines(missing.stdout, 'affected file'), affectedLines('node1', [[2, join(data, 'third.bin')]]));
    await rename(away, packFile(sandbox, packName));

    const back = await runCheck(sandbox, []);
    assert.equal(back.code, 0, back.stdout + back.stderr);
    assert.match(back.stdout, new RegExp(`${chunks.length} chunks marked damaged by an earlier check read back whole and match their hashes: no longer marked`));
    assert.match(back.stdout, /no errors found/);
    const repaired = await runCheck(sandbox, ['--read-data', '--repair']);
    assert.equal(repaired.code, 0, repaired.stdout + repaired.stderr);
    assert.match(repaired.stdout, /repair: no file had to be removed/);
    assert.doesNotMatch(repaired.stdout, /removed: /);

    await sandbox.startServer();
    await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
    await assertRestoreRefuses(fixture, fixture.backups[1], []);
  } finally {
    await sandbox.destroy();
  }
});

test('check refuses while a server holds the store, and rejects two read-data options at once', async () => {
  const sandbox = await Sandbox.create();
  try {
    await mkdir(join(sandbox.root, 'data'));
    await sandbox.startServer();
    const busy = await runCheck(sandbox);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /is in use by process \d+/);
    const both = await runCheck(sandbox, ['--read-data', '--read-data-subset', '10%']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /choose one of --read-data and --read-data-subset/);
    const badShare = await runCheck(sandbox, ['--read-data-subset', '150%']);
    assert.equal(badShare.code, 2);
  } finally {
    await sandbox.destroy();
  }
});
