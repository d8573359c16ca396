// Runs each benchmark tool runner end to end on a tiny corpus: A, B, generation 2, C, restore D,
// verified by hashes. A tool not installed (or cpsbackup not built) is skipped with the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCorpus, mutateCorpus } from '../bench/corpus';
import { newToolResult, runGenerationOne, runGenerationTwo, runManyFiles } from '../bench/scenarios';
import { generateManyFiles } from '../bench/corpus-many';
import { BorgRunner } from '../bench/tools/borg';
import { CpsbackupRunner } from '../bench/tools/cpsbackup';
import { ResticRunner } from '../bench/tools/restic';
import type { RunnerContext, ToolRunner } from '../bench/tools/runner';
import { treeManifest, treeSize } from '../bench/tree';

const sizeBytes = 3 * 1024 * 1024;
const makers: Record<string, (context: RunnerContext) => ToolRunner> = {
  restic: (context) => new ResticRunner(context),
  borg: (context) => new BorgRunner(context),
  cpsbackup: (context) => new CpsbackupRunner(context),
  'cpsbackup-wire': (context) => new CpsbackupRunner(context, { name: 'cpsbackup-wire', countWire: true }),
  'cpsbackup-server-chunking': (context) => new CpsbackupRunner(context, { name: 'cpsbackup-server-chunking', chunking: 'server' }),
};

for (const [name, make] of Object.entries(makers)) {
  // Probing needs no work folder, so the skip reason is known before the test starts.
  const probe = make({ corpusRoot: '/nonexistent', workDirectory: '/nonexistent' }).probe();

  test(`${name}: backups A, B, C and a verified restore`, async (t) => {
    const status = await probe;
    if ('missing' in status) {
      t.skip(status.missing);
      return;
    }
    const folder = await mkdtemp(join(tmpdir(), `bench-${name}-`));
    const corpus = { root: join(folder, 'corpus'), sizeBytes, seed: 3 };
    const workDirectory = join(folder, 'work');
    await mkdir(workDirectory);
    const runner = make({ corpusRoot: corpus.root, workDirectory });
    t.after(async () => {
      await runner.close();
      await rm(folder, { recursive: true, force: true });
    });
    await runner.probe();
    await generateCorpus(corpus);
    const result = newToolResult(name);
    const lines: string[] = [];
    await runGenerationOne(runner, result, (await treeSize(corpus.root)).bytes, (line) => lines.push(line));
    assert.equal(result.error, undefined);
    await mutateCorpus(corpus);
    const expected = await treeManifest(corpus.root);
    await runGenerationTwo(runner, result, (await treeSize(corpus.root)).bytes, expected, join(folder, 'restore'), (line) => lines.push(line));
    assert.equal(result.error, undefined);
    assert.equal(result.restoreVerified, true);
    assert.deepEqual(Object.keys(result.scenarios).sort(), ['A', 'B', 'C', 'D']);
    for (const scenario of Object.values(result.scenarios)) {
      assert.ok(Object.values(scenario.peakRssBytes).every((peak) => peak > 0));
    }
    const { A, B, C } = result.repositoryBytes;
    assert.ok(A !== undefined && B !== undefined && C !== undefined && A > 0 && C > B);
    if (name === 'cpsbackup-wire') {
      const wire = result.scenarios.A?.wireBytes;
      // The first backup sends the compressed corpus; the unchanged one far less.
      assert.ok(wire !== undefined && wire.sent >= sizeBytes / 8, `A wire ${JSON.stringify(wire)} for a ${sizeBytes} byte corpus`);
      assert.ok((result.scenarios.B?.wireBytes?.sent ?? Infinity) < wire.sent / 4);
      assert.ok((result.scenarios.D?.wireBytes?.received ?? 0) > 0);
    }
  });
}

test('the many-files scenarios E and F back up and restore a tree of small files and a large file', async (t) => {
  const status = await new CpsbackupRunner({ corpusRoot: '/nonexistent', workDirectory: '/nonexistent' }).probe();
  if ('missing' in status) {
    t.skip(status.missing);
    return;
  }
  const folder = await mkdtemp(join(tmpdir(), 'bench-many-'));
  const root = join(folder, 'many');
  await mkdir(join(folder, 'work'));
  const runner = new CpsbackupRunner({ corpusRoot: root, workDirectory: join(folder, 'work') });
  t.after(async () => {
    await runner.close();
    await rm(folder, { recursive: true, force: true });
  });
  await generateManyFiles({ root, smallFiles: 250, largeFileBytes: 3 * 1024 * 1024 + 5, seed: 2 });
  const expected = await treeManifest(root);
  assert.equal([...expected.values()].filter((value) => value.startsWith('file:')).length, 251);
  const result = newToolResult('cpsbackup');
  await runManyFiles(runner, result, (await treeSize(root)).bytes, expected, join(folder, 'restore'), () => undefined);
  assert.equal(result.error, undefined);
  assert.deepEqual(Object.keys(result.scenarios).sort(), ['E', 'F']);
});
