// A pack shorter than the catalog recorded is damage, wherever it is found: at start (like a missing pack,
// its lost chunks marked and named in a warning) and by a collection compacting it (every live chunk that
// does not read back marked, not the first one only), so the next backup of the same bytes stores them all
// again and restores. A pack longer than recorded is reported, not damage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, readdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { backupFiles, bytesOf, openStoreFixture, readBackup, type StoreFixture } from './support/store-fixture';
import { flipByte } from './support/fault-tools';
import type { Logger } from '../src/common/logger';
import { RECORD_HEADER_SIZE } from '../src/chunkstore/pack/pack-format';

interface PackFile { readonly name: string; readonly path: string; readonly size: number }

async function packFilesOf(directory: string): Promise<PackFile[]> {
  const packs: PackFile[] = [];
  for (const folder of (await readdir(join(directory, 'packs'))).sort()) {
    for (const file of (await readdir(join(directory, 'packs', folder))).sort()) {
      const path = join(directory, 'packs', folder, file);
      packs.push({ name: file.replace(/\.pack$/, ''), path, size: (await stat(path)).size });
    }
  }
  return packs;
}

interface ChunkPlace { readonly offset: number; readonly storedSize: number; readonly isDamaged: number }

/** The chunk rows of one pack, in file order, read beside the open store (WAL). */
function chunksOf(directory: string, packName: string): ChunkPlace[] {
  const database = new Database(join(directory, 'catalog.db'), { readonly: true });
  try {
    return database.prepare(`SELECT ch.offset, ch.stored_size AS storedSize, ch.is_damaged AS isDamaged FROM chunks ch
      JOIN packs p ON p.id = ch.pack_id WHERE p.name = ? ORDER BY ch.offset`).all(packName) as ChunkPlace[];
  } finally {
    database.close();
  }
}

function warningsLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, logger: { info: () => undefined, warn: (message) => warnings.push(message), error: (message) => warnings.push(message) } };
}

/** One backup of `content` in one pack; the fixture and that pack. */
async function storeWithOnePack(t: { after(fn: () => Promise<void>): void }, seed: string, logger: Logger): Promise<{ fixture: StoreFixture; pack: PackFile; content: Buffer }> {
  const fixture = await openStoreFixture({ resumeHoldSeconds: 0, logger });
  t.after(() => fixture.destroy());
  const content = await bytesOf(seed, 600_000);
  await backupFiles(fixture.store, 'node1', { '/a/file': content });
  const packs = await packFilesOf(fixture.directory);
  assert.equal(packs.length, 1);
  return { fixture, pack: packs[0], content };
}

/** After the damage: a backup of the same bytes stores what was lost again, and restores whole. */
async function assertNextBackupRestores(fixture: StoreFixture, content: Buffer): Promise<void> {
  const again = await backupFiles(fixture.store, 'node1', { '/a/file': content });
  assert.ok((await readBackup(fixture.store, again)).get('/a/file')?.equals(content), 'the next backup of the same bytes restores');
}

// Regression (red team, truncated-pack.js): a pack cut short or to 0 bytes while the server was down went
// unnoticed at start; the next backup deduplicated against its lost chunks, exited 0, and did not restore.
test('a pack cut short while the store was closed: at open its chunks past the end are marked damaged and named; the next backup stores them again', async (t) => {
  const { logger, warnings } = warningsLogger();
  const { fixture, pack, content } = await storeWithOnePack(t, 'short-pack', logger);
  await fixture.store.close();
  const cut = Math.floor(pack.size / 3);
  await truncate(pack.path, cut);
  const store = await fixture.reopen();
  assert.equal(store.recovery.shortPacks, 1);
  assert.ok(warnings.some((line) => line.includes(`pack ${pack.name}`) && /truncated/.test(line) && line.includes(`${cut} bytes stored, ${pack.size} recorded`)), warnings.join('\n'));
  const chunks = chunksOf(fixture.directory, pack.name);
  const beyond = chunks.filter((chunk) => chunk.offset + RECORD_HEADER_SIZE + chunk.storedSize > cut);
  assert.ok(beyond.length > 0 && beyond.length < chunks.length);
  assert.deepEqual(chunks.map((chunk) => chunk.isDamaged), chunks.map((chunk) => (beyond.includes(chunk) ? 1 : 0)),
    'every chunk past the end is marked, none of those within it (they read back whole)');
  await assertNextBackupRestores(fixture, content);
  // Healed: nothing lies past its end any more. The next open says so once and records the stored size;
  // the one after finds nothing, and check finds the store clean.
  warnings.length = 0;
  const healed = await fixture.reopen();
  assert.equal(healed.recovery.shortPacks, 1);
  assert.ok(warnings.some((line) => line.includes(`pack ${pack.name}`) && line.includes(`its recorded size is now ${cut}`)), warnings.join('\n'));
  warnings.length = 0;
  const settled = await fixture.reopen();
  assert.equal(settled.recovery.shortPacks, 0);
  assert.deepEqual(warnings, []);
  const checked = await settled.check({ readDataPercent: 100 });
  assert.deepEqual([...checked.problems, ...checked.damagedChunks.map((damage) => damage.reason)], []);
});

test('a pack cut to 0 bytes (a full disk, restic #3400): every chunk of it is marked damaged at open; the next backup stores them again', async (t) => {
  const { logger, warnings } = warningsLogger();
  const { fixture, pack, content } = await storeWithOnePack(t, 'zero-pack', logger);
  await fixture.store.close();
  await truncate(pack.path, 0);
  const store = await fixture.reopen();
  assert.equal(store.recovery.shortPacks, 1);
  assert.ok(warnings.some((line) => line.includes(`pack ${pack.name}`) && line.includes('0 bytes stored')), warnings.join('\n'));
  assert.ok(chunksOf(fixture.directory, pack.name).every((chunk) => chunk.isDamaged === 1), 'all of its chunks are marked');
  await assertNextBackupRestores(fixture, content);
});

test('a short pack whose stored part is damaged too: the records within it are read back, and the one that does not verify is marked as well', async (t) => {
  const { logger } = warningsLogger();
  const { fixture, pack, content } = await storeWithOnePack(t, 'short-damaged-pack', logger);
  await fixture.store.close();
  await flipByte(pack.path, 200); // the first record's payload
  await truncate(pack.path, Math.floor(pack.size / 3));
  await fixture.reopen();
  const chunks = chunksOf(fixture.directory, pack.name);
  assert.equal(chunks[0].offset, 0);
  assert.equal(chunks[0].isDamaged, 1, 'the first chunk, within the stored part, does not read back: marked');
  assert.equal(chunks[1].isDamaged, 0, 'its neighbour reads back whole');
  await assertNextBackupRestores(fixture, content);
});

test('a pack longer than recorded is named in a warning at open, and nothing in it is marked damaged', async (t) => {
  const { logger, warnings } = warningsLogger();
  const { fixture, pack, content } = await storeWithOnePack(t, 'long-pack', logger);
  await fixture.store.close();
  await appendFile(pack.path, Buffer.alloc(1000, 7));
  const store = await fixture.reopen();
  assert.equal(store.recovery.shortPacks, 0);
  assert.equal(store.recovery.longPacks, 1);
  assert.ok(warnings.some((line) => line.includes(`pack ${pack.name}`) && line.includes(`${pack.size + 1000} bytes, longer than the ${pack.size} recorded`)), warnings.join('\n'));
  assert.ok(chunksOf(fixture.directory, pack.name).every((chunk) => chunk.isDamaged === 0));
  const [backup] = store.listBackups('node1');
  assert.ok((await readBackup(store, backup)).get('/a/file')?.equals(content));
});

/** A kept file and a dropped one in one pack, a second backup holding the kept one: deleting the first makes GC compact that pack. */
async function packToCompact(t: { after(fn: () => Promise<void>): void }, seed: string) {
  const fixture = await openStoreFixture({ resumeHoldSeconds: 0 });
  t.after(() => fixture.destroy());
  const keep = await bytesOf(`${seed}-keep`, 300_000);
  const first = await backupFiles(fixture.store, 'node1', { '/a/keep': keep, '/a/drop': await bytesOf(`${seed}-drop`, 900_000) });
  await backupFiles(fixture.store, 'node1', { '/a/keep': keep });
  const [pack] = await packFilesOf(fixture.directory);
  return { fixture, first, keep, pack };
}

// Regression (red team, truncated-pack-gc.js): GC compacting a damaged pack marked only the first damaged chunk
// it met; the next backup stored that one again, deduplicated against the second lost one, and did not restore.
test('gc compacting a pack cut short under it marks every live chunk past the end, and the next backup of the kept file restores', async (t) => {
  const { fixture, first, keep, pack } = await packToCompact(t, 'gc-short');
  const keptChunks = chunksOf(fixture.directory, pack.name).filter((chunk) => chunk.offset < 300_000);
  const cut = keptChunks[Math.floor(keptChunks.length / 2)].offset + 50;
  await truncate(pack.path, cut); // while the store is open: no start sees it, the collection does
  fixture.store.deleteBackups([first]);
  const report = await fixture.store.collectGarbage();
  const lost = keptChunks.filter((chunk) => chunk.offset + RECORD_HEADER_SIZE + chunk.storedSize > cut);
  assert.ok(lost.length >= 2, `${lost.length} kept chunks past the cut`);
  assert.equal(report.damagedPacks, 1, JSON.stringify(report));
  assert.equal(report.damagedChunks, lost.length, JSON.stringify(report));
  assert.deepEqual(report.damagedPackNames, [pack.name]);
  await assertNextBackupRestores(fixture, keep).catch((error: unknown) => {
    throw new Error(`after gc: ${String(error)}`);
  });
});

test('gc compacting a pack damaged in two places marks both chunks, copies the sound ones out, and the next backup restores', async (t) => {
  const { fixture, first, keep, pack } = await packToCompact(t, 'gc-two-flips');
  const keptChunks = chunksOf(fixture.directory, pack.name).filter((chunk) => chunk.offset < 300_000);
  assert.ok(keptChunks.length >= 4);
  const damaged = [keptChunks[1], keptChunks[keptChunks.length - 2]];
  for (const chunk of damaged) await flipByte(pack.path, chunk.offset + RECORD_HEADER_SIZE + 10);
  fixture.store.deleteBackups([first]);
  const report = await fixture.store.collectGarbage();
  assert.equal(report.damagedPacks, 1, JSON.stringify(report));
  assert.equal(report.damagedChunks, 2, JSON.stringify(report));
  const left = chunksOf(fixture.directory, pack.name);
  assert.deepEqual(left.map((chunk) => [chunk.offset, chunk.isDamaged]), damaged.map((chunk) => [chunk.offset, 1]),
    'only the two damaged chunks stay in the old pack, marked; the sound ones moved to the new pack');
  await assertNextBackupRestores(fixture, keep);
});
