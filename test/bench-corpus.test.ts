// Proves the benchmark corpus is deterministic: same seed → same bytes, for generation 1 and 2,
// and that generation 2 changes only a small, bounded part of the tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCorpus, mutateCorpus, dumpPath } from '../bench/corpus';
import { treeManifest } from '../bench/tree';

const sizeBytes = 3 * 1024 * 1024;

test('same seed gives the same corpus, generation 1 and 2', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'bench-corpus-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const first = { root: join(folder, 'first'), sizeBytes, seed: 7 };
  const second = { root: join(folder, 'second'), sizeBytes, seed: 7 };
  const summary = await generateCorpus(first);
  await generateCorpus(second);
  assert.ok(summary.binaryFiles > 0 && summary.textFiles > 0 && summary.dumpRecords > 0);
  const generationOne = await treeManifest(first.root);
  assert.deepEqual(generationOne, await treeManifest(second.root));

  const mutation = await mutateCorpus(first);
  await mutateCorpus(second);
  const generationTwo = await treeManifest(first.root);
  assert.deepEqual(generationTwo, await treeManifest(second.root));

  let changed = 0;
  for (const [path, value] of generationTwo) if (generationOne.get(path) !== value) changed++;
  const removed = [...generationOne.keys()].filter((path) => !generationTwo.has(path)).length;
  // A few dozen files plus the dump and the new folder; nothing else may move.
  assert.ok(changed >= 30 && changed <= 60, `changed ${changed}`);
  assert.equal(removed, mutation.filesDeleted);
  assert.notEqual(generationOne.get(dumpPath), generationTwo.get(dumpPath));
  const records = summary.dumpRecords;
  assert.equal(mutation.dump.records, records - mutation.dump.deleted + mutation.dump.appended);
  assert.ok(mutation.dump.appended > 0);
  assert.ok(mutation.dump.changed > 0 && mutation.dump.changed < records * 0.05, `changed ${mutation.dump.changed} of ${records}`);
});

test('another seed gives other text and dump bytes', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'bench-corpus-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  await generateCorpus({ root: join(folder, 'one'), sizeBytes, seed: 1 });
  await generateCorpus({ root: join(folder, 'two'), sizeBytes, seed: 2 });
  const one = await treeManifest(join(folder, 'one'));
  const two = await treeManifest(join(folder, 'two'));
  assert.notEqual(one.get(dumpPath), two.get(dumpPath));
  const text = [...one.keys()].find((path) => path.startsWith('text/') && one.get(path)?.startsWith('file:'));
  assert.ok(text);
  assert.notEqual(one.get(text), two.get(text));
});
