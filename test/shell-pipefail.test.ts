// Dump and load commands run with pipefail, or not at all when they have a pipe: `pg_dump | gzip` whose
// pg_dump fails must fail, not store gzip's empty output as a good dump. Real shells on a PATH made for
// the test: dash as sh (no pipefail, as on a Debian without bash) and bash as sh (pipefail, no `bash`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DumpFailedError, LoadFailedError } from '../src/common/errors';
import { runPostprocess } from '../src/client/receiver/postprocess';
import { startDumps } from '../src/client/sources/dump-run';
import { loadRestoredDumps } from '../src/client/sources/loaders';
import { storageConfigFromText } from '../src/client/sources/storage-config';
import { PipeWithoutPipefailError, shellCommand } from '../src/client/sources/shell';

const DASH = ['/usr/bin/dash', '/bin/dash'].find((path) => existsSync(path));
const BASH = ['/usr/bin/bash', '/bin/bash'].find((path) => existsSync(path));
const TOOLS = ['cat', 'gzip', 'printf', 'true', 'false', 'mkfifo'];

/** A folder holding `sh` (as `shell`) and a few tools, set as PATH while `run` runs; no `bash` in it. */
async function withShellAsSh(shell: string, run: (folder: string) => Promise<void>): Promise<void> {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-pipefail-'));
  const bin = join(folder, 'bin');
  await mkdir(bin);
  await symlink(shell, join(bin, 'sh'));
  for (const tool of TOOLS) {
    const path = [`/usr/bin/${tool}`, `/bin/${tool}`].find((candidate) => existsSync(candidate));
    if (path !== undefined) await symlink(path, join(bin, tool));
  }
  const previous = process.env.PATH;
  process.env.PATH = bin;
  try {
    await run(folder);
  } finally {
    process.env.PATH = previous;
    await rm(folder, { recursive: true, force: true });
  }
}

const PIPED_DUMP = `source = piped\nkind = command\ndump = sh -c 'echo partial; exit 2' | gzip\nload = cat > /dev/null\n`;

test('without bash, an sh without pipefail refuses a command with a pipe and runs one without', { skip: DASH === undefined && 'dash is not installed' }, async () => {
  await withShellAsSh(DASH!, async () => {
    assert.throws(() => shellCommand('pg_dump shop | gzip'), PipeWithoutPipefailError);
    assert.throws(() => shellCommand("grep -E 'a|b' file"), PipeWithoutPipefailError, 'a quoted | counts: refused, never missed');
    assert.deepEqual(shellCommand('pg_dump shop || true'), { file: 'sh', args: ['-c', 'pg_dump shop || true'] }, '|| is no pipe');
    assert.deepEqual(shellCommand('pg_dump shop'), { file: 'sh', args: ['-c', 'pg_dump shop'] });
  });
});

test('without bash, a piped dump is not run where sh has no pipefail: the backup fails naming the source', { skip: DASH === undefined && 'dash is not installed' }, async () => {
  await withShellAsSh(DASH!, async (folder) => {
    const config = storageConfigFromText('storage.conf', PIPED_DUMP);
    const error = await (async () => {
      const run = await startDumps(config, folder);
      await run.finish();
    })().then(() => undefined, (caught: unknown) => caught);
    assert.ok(error instanceof DumpFailedError, `a dump whose first command fails was stored as good: ${String(error)}`);
    assert.equal(error.source, 'piped');
    assert.match(error.message, /no bash and its sh has no pipefail/);
  });
});

test('without bash, a piped loader is not run where sh has no pipefail: its dump file is kept', { skip: DASH === undefined && 'dash is not installed' }, async () => {
  await withShellAsSh(DASH!, async (folder) => {
    const config = storageConfigFromText('storage.conf', 'source = piped\nkind = command\ndump = true\nload = gzip -dc | cat > /dev/null\n');
    const dump = join(folder, 'dumps', 'piped', 'dump');
    await mkdir(join(folder, 'dumps', 'piped'), { recursive: true });
    await writeFile(dump, 'restored dump');
    const [result] = await loadRestoredDumps(config, [{ path: dump, sourceName: 'piped' }]);
    assert.equal(result.ok, false);
    assert.match(result.error ?? '', /no bash and its sh has no pipefail.*file kept/);
    assert.ok((await stat(dump)).isFile());
  });
});

test('without bash, an sh with pipefail runs the pipeline with it: a failing first command fails the dump', { skip: BASH === undefined && 'bash is not installed' }, async () => {
  await withShellAsSh(BASH!, async (folder) => {
    assert.deepEqual(shellCommand('a | b'), { file: 'sh', args: ['-o', 'pipefail', '-c', 'a | b'] });
    const run = await startDumps(storageConfigFromText('storage.conf', PIPED_DUMP), folder);
    for await (const piece of run.openDump(run.files[0])) assert.ok(piece.length >= 0);
    const error = await run.finish().then(() => undefined, (caught: unknown) => caught);
    assert.ok(error instanceof DumpFailedError, `the failed first command was hidden by gzip's exit 0: ${String(error)}`);
    assert.match(error.message, /exited with code 2/);
  });
});

test('a receiver\'s postprocess runs as dumps do: with pipefail, or refused with a pipe where there is none', { skip: (DASH === undefined || BASH === undefined) && 'dash or bash is not installed' }, async () => {
  const context = { client: 'prod', backupId: 3, kind: 'complete' as const, appliedBackupIds: [3] };
  await withShellAsSh(BASH!, async () => {
    await assert.rejects(runPostprocess("sh -c 'exit 4' | cat", context), (error: unknown) => error instanceof LoadFailedError && /code 4/.test(error.message),
      'reindex | logger with a failing reindex counted the receive applied');
    await runPostprocess('true | cat', context);
  });
  await withShellAsSh(DASH!, async () => {
    await assert.rejects(runPostprocess("sh -c 'exit 4' | cat", context), (error: unknown) => error instanceof LoadFailedError && /no bash and its sh has no pipefail/.test(error.message));
  });
});

test('without pipefail, a | in the restored dump\'s folder is not taken for a pipe in the load command', { skip: DASH === undefined && 'dash is not installed' }, async () => {
  await withShellAsSh(DASH!, async (folder) => {
    const config = storageConfigFromText('storage.conf', 'source = piped\nkind = command\ndump = true\nload = cat {file} > /dev/null\n');
    const dump = join(folder, 'a|b', 'dumps', 'piped', 'dump');
    await mkdir(join(folder, 'a|b', 'dumps', 'piped'), { recursive: true });
    await writeFile(dump, 'restored dump');
    const [result] = await loadRestoredDumps(config, [{ path: dump, sourceName: 'piped' }]);
    assert.equal(result.error, undefined);
    assert.equal(result.ok, true);
  });
});
