// Runs the whole benchmark (dist/bench/run.js) on a 2 MiB corpus as a real process and checks
// that it writes the .json and .md results and names cpsbackup as missing when it is not built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const runScript = resolve(__dirname, '..', 'bench', 'run.js');
const hasTools = spawnSync('restic', ['version']).status === 0 && spawnSync('borg', ['--version']).status === 0;

test('bench run writes results for restic and borg', { skip: hasTools ? false : 'restic or borg is not installed' }, async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'bench-run-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const results = join(folder, 'results');
  // Restores elsewhere (made if missing), as BENCH_RESTORE_DIR=/dev/shm would put them.
  const restores = join(folder, 'restores', 'deeper');
  const run = spawnSync(process.execPath, [runScript], {
    env: {
      ...process.env, BENCH_SIZE_MIB: '2', BENCH_TOOLS: 'restic,borg', BENCH_MANY_FILES: '200', BENCH_MANY_LARGE_MIB: '1', BENCH_WORK_DIR: folder,
      BENCH_RESULTS_DIR: results, BENCH_RESTORE_DIR: restores,
    },
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /warm-up for restic: read/);
  assert.match(run.stdout, /warm-up for borg: read/);
  assert.match(run.stdout, /A MiB\/s/);
  assert.match(run.stdout, /restic F \(restore of E\)/, 'E and F ran on their small corpus');
  const restoreLines = run.stdout.split('\n').filter((text) => /^(restic|borg) [DF] \(/.test(text));
  assert.equal(restoreLines.length, 4, run.stdout);
  for (const line of restoreLines) {
    assert.ok(line.includes(` into ${restores}/cpsbackup-bench-restores-`), line);
  }
  const names = (await readdir(results)).sort();
  assert.equal(names.length, 2);
  const json = JSON.parse(await readFile(join(results, names.find((name) => name.endsWith('.json')) ?? ''), 'utf8'));
  assert.deepEqual(json.results.map((result: { tool: string }) => result.tool), ['restic', 'borg']);
  assert.ok(json.results.every((result: { restoreVerified?: boolean }) => result.restoreVerified === true));
  // The run's own work folder is removed unless BENCH_KEEP=1, and so is its folder of restores.
  assert.deepEqual((await readdir(folder)).filter((name) => name.startsWith('cpsbackup-bench-')), []);
  assert.deepEqual(await readdir(restores), []);
  const markdown = await readFile(join(results, names.find((name) => name.endsWith('.md')) ?? ''), 'utf8');
  assert.ok(markdown.includes(`- restores: under ${restores} (BENCH_RESTORE_DIR)`), markdown);
});

test('a bad knob is one clear line and exit 1', () => {
  const run = spawnSync(process.execPath, [runScript], { env: { ...process.env, BENCH_SIZE_MIB: 'lots' }, encoding: 'utf8' });
  assert.equal(run.status, 1);
  assert.match(run.stderr, /^bench: BENCH_SIZE_MIB: must be a positive number, got "lots"\n$/);
  assert.ok(existsSync(runScript));
});
