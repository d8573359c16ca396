// The staging folder's bound (s3_staging_max) in process: pack writers sharing one StagingBudget on a
// real local backend. A writer that finds no room waits and goes on once a pack is stored; when every
// staged byte sits in open packs (nothing uploading) the budget has an idle writer seal its pack, which
// is what keeps two half-full backups from waiting on each other for ever.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBackend } from '../src/chunkstore/backend/local-backend';
import { Codec, RECORD_HEADER_SIZE } from '../src/chunkstore/pack/pack-format';
import { PackWriter, type SealedPack } from '../src/chunkstore/pack/pack-writer';
import { StagingBudget } from '../src/chunkstore/pack/staging-budget';
import { testBytes } from './support/test-bytes';

const MEBIBYTE = 1024 * 1024;

async function folder(t: { after(fn: () => Promise<void>): void }): Promise<{ staging: string; backend: LocalBackend }> {
  const root = await mkdtemp(join(tmpdir(), 'staging-budget-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, 'staging'));
  return { staging: join(root, 'staging'), backend: new LocalBackend(root) };
}

/** A writer whose stored packs are listed in `stored`, each record given the next id (the catalog's part). */
function writer(staging: string, backend: LocalBackend, budget: StagingBudget, stored: SealedPack[]): PackWriter {
  let nextId = 1;
  return new PackWriter(staging, backend, (pack) => {
    stored.push(pack);
    return pack.records.map(() => nextId++);
  }, { budget, targetSize: 4 * MEBIBYTE });
}

function append(packWriter: PackWriter, seed: string, size: number): ReturnType<PackWriter['append']> {
  const payload = testBytes(seed, size);
  const hash = createHash('sha256').update(payload).digest();
  return packWriter.append(hash, Codec.Raw, size, payload, hash);
}

test('two writers with half-full packs and no room: the idle one is asked to seal, the other goes on; the bound holds', async (t) => {
  const { staging, backend } = await folder(t);
  const budget = new StagingBudget(3 * MEBIBYTE);
  const storedA: SealedPack[] = [];
  const storedB: SealedPack[] = [];
  const first = writer(staging, backend, budget, storedA);
  const second = writer(staging, backend, budget, storedB);

  const a = append(first, 'a', 2 * MEBIBYTE);
  await a.written;
  assert.equal(budget.figures.bytes, 2 * MEBIBYTE + RECORD_HEADER_SIZE, 'the open pack holds its bytes');
  // 2 + 2 MiB > 3 MiB: the second writer must wait, and only sealing the first writer's open pack frees room.
  const b = append(second, 'b', 2 * MEBIBYTE);
  await b.written;
  assert.equal(budget.figures.waits, 1);
  assert.equal(storedA.length, 1, "the first writer's pack was sealed early and stored");
  assert.equal(await a.chunkId, 1);
  await second.sealCurrent();
  assert.equal(await b.chunkId, 1);
  assert.ok(budget.figures.maxBytes <= 3 * MEBIBYTE, `at most ${budget.figures.maxBytes} bytes staged`);
  assert.equal(budget.figures.bytes, 0, 'everything stored: nothing staged');
  assert.deepEqual(await readdir(staging), []);
});

test('one writer through a bound of one pack and a half: every record stored, never more staged than the bound', async (t) => {
  const { staging, backend } = await folder(t);
  const budget = new StagingBudget(6 * MEBIBYTE);
  const stored: SealedPack[] = [];
  const packWriter = writer(staging, backend, budget, stored);
  const records = [];
  for (let index = 0; index < 40; index++) {
    const record = append(packWriter, `r${index}`, 512 * 1024);
    records.push(record);
    await record.written;
  }
  await packWriter.sealCurrent();
  assert.equal(new Set(await Promise.all(records.map((record) => record.chunkId))).size, 40);
  assert.equal(stored.reduce((sum, pack) => sum + pack.records.length, 0), 40);
  assert.ok(budget.figures.maxBytes <= 6 * MEBIBYTE, `at most ${budget.figures.maxBytes} bytes staged`);
  assert.equal(budget.figures.bytes, 0);
});

test('an abandoned writer gives its open pack back; an unbounded budget never waits', async (t) => {
  const { staging, backend } = await folder(t);
  const budget = new StagingBudget(undefined);
  const packWriter = writer(staging, backend, budget, []);
  await append(packWriter, 'x', MEBIBYTE).written;
  await append(packWriter, 'y', MEBIBYTE).written;
  assert.equal(budget.figures.bytes, 2 * (MEBIBYTE + RECORD_HEADER_SIZE));
  await packWriter.discard();
  assert.equal(budget.figures.bytes, 0);
  assert.equal(budget.figures.waits, 0);
  assert.equal(budget.figures.limitBytes, null);
  assert.deepEqual(await readdir(staging), []);
});
