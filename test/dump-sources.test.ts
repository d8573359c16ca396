// Proves the dump-source contract with real processes and FIFOs: failures of any kind reach
// finish(), reading always ends, loaders keep failed files, and storage.conf errors name file:line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { lstat, mkdtemp, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ConfigError, DumpFailedError } from '../src/common/errors';
import { startDumps } from '../src/client/sources/dump-run';
import { dumpSourceOfPath, loadRestoredDumps } from '../src/client/sources/loaders';
import { loadStorageConfig, storageConfigFromText } from '../src/client/sources/storage-config';
import { versionLabels } from '../src/client/sources/version-labels';
import { isOnPath } from '../src/client/sources/shell';
import { sourceIdentity } from '../src/client/sources/source-identity';

async function withFolder(run: (folder: string) => Promise<void>): Promise<void> {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-sources-'));
  try {
    await run(folder);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function configOf(text: string) {
  return storageConfigFromText('storage.conf', text);
}

test('a command dump streams through its FIFO, records the version label and leaves nothing behind', async () => {
  await withFolder(async (folder) => {
    const config = configOf(`source = app\nkind = command\ndump = printf 'hello dump'\nload = cat > /dev/null\nversion_command = printf 'app 4.2\\nbuild 7\\n'\n`);
    const run = await startDumps(config, folder);
    assert.equal(run.directory, join(folder, 'dumps'));
    assert.deepEqual(run.files, [{ path: join(folder, 'dumps', 'app', 'dump'), sourceName: 'app' }]);
    assert.ok((await lstat(run.files[0].path)).isFIFO());
    assert.deepEqual(run.labels, { 'version.app': 'app 4.2', 'dumps.source.app': sourceIdentity(config.sources[0]) });
    assert.equal((await readAll(run.openDump(run.files[0]))).toString(), 'hello dump');
    await run.finish();
    await assert.rejects(lstat(run.directory), { code: 'ENOENT' });
  });
});

// Regression: version_command ran under plain `sh -c` (a failing `app --version | head -1` passed) and
// an empty first line was stored as the version label.
test('version_command: a failing pipeline or an empty first line fails; the first line is the label', async (t) => {
  const labelsOf = (command: string) => versionLabels(configOf(`source = app\nkind = command\ndump = true\nload = cat\nversion_command = ${command}\n`).sources);
  const failsWith = async (command: string, message: RegExp): Promise<void> => {
    await assert.rejects(labelsOf(command), (error: unknown) => error instanceof DumpFailedError && error.source === 'app' && message.test(error.message));
  };
  assert.deepEqual(await labelsOf(`printf ' app 4.2 \\nbuild 7\\n'`), { 'version.app': 'app 4.2' });
  await failsWith(`printf '\\napp 4.2\\n'`, /first line of output is empty/);
  await failsWith('true', /first line of output is empty/);
  if (!isOnPath('bash')) {
    t.diagnostic('bash is not installed: the pipeline case runs only where a shell has pipefail');
    return;
  }
  await failsWith(`sh -c 'echo app 4.2; exit 3' | head -n 1`, /version_command exited with code 3/);
});

// Regression: under pipefail, `app --version | head -1` exited 141 whenever app wrote after head had
// quit (always for a large output), and the whole backup failed for the one line it needed.
test('version_command: a producer cut by SIGPIPE after the first line gives the label; its own failure still fails', async (t) => {
  if (!isOnPath('bash')) {
    t.diagnostic('bash is not installed: pipelines run only where a shell has pipefail');
    return;
  }
  const labelsOf = (command: string) => versionLabels(configOf(`source = app\nkind = command\ndump = true\nload = cat\nversion_command = ${command}\n`).sources);
  const failsWith = async (command: string, message: RegExp): Promise<void> => {
    await assert.rejects(labelsOf(command), (error: unknown) => error instanceof DumpFailedError && error.source === 'app' && message.test(error.message));
  };
  assert.deepEqual(await labelsOf('seq 1000000 | head -1'), { 'version.app': '1' });
  await failsWith('false | head -1', /version_command exited with code 1$/);
  await failsWith(`yes '' | head -1`, /version_command exited with code 141 \(a command before a \| was killed by SIGPIPE\) before any first line/);
  await failsWith(`sh -c 'kill -PIPE $$'`, /version_command (killed by SIGPIPE|exited with code 141)/);
});

test('a dumper writing some bytes then exiting 1: reading ends, finish names the source and its stderr', async () => {
  await withFolder(async (folder) => {
    const config = configOf(`source = broken\nkind = command\ndump = head -c 100000 /dev/zero; echo 'pg_dump: error: connection lost' >&2; exit 1\nload = cat\n`);
    const run = await startDumps(config, folder);
    const content = await readAll(run.openDump(run.files[0]));
    assert.equal(content.length, 100000);
    const error = await run.finish().then(() => undefined, (caught: unknown) => caught);
    assert.ok(error instanceof DumpFailedError, String(error));
    assert.equal(error.source, 'broken');
    assert.match(error.message, /exited with code 1/);
    assert.match(error.stderrTail, /connection lost/);
  });
});

test('a pipeline whose dumper fails fails the run, though its last command exits 0 (pg_dump | gzip)', async (t) => {
  if (!isOnPath('bash')) {
    t.skip('bash is not installed: commands run under sh, which has no pipefail');
    return;
  }
  await withFolder(async (folder) => {
    const config = configOf(`source = piped\nkind = command\ndump = sh -c 'echo partial; echo "pg_dump: error: password authentication failed" >&2; exit 2' | gzip\nload = cat\n`);
    const run = await startDumps(config, folder);
    await readAll(run.openDump(run.files[0]));
    const error = await run.finish().then(() => undefined, (caught: unknown) => caught);
    assert.ok(error instanceof DumpFailedError, `the failed dumper was hidden by gzip's exit 0: ${String(error)}`);
    assert.match(error.message, /exited with code 2/);
    assert.match(error.stderrTail, /password authentication failed/);
  });
});

test('a dumper that leaves its writer running in the background fails the run: the writer is killed, the dump cut short', async () => {
  await withFolder(async (folder) => {
    const config = configOf(`source = backgrounded\nkind = command\ndump = printf 'early\\n'; (sleep 30; printf 'late\\n') &\nload = cat\n`);
    const run = await startDumps(config, folder);
    const content = await readAll(run.openDump(run.files[0]));
    assert.equal(content.toString(), 'early\n', 'the writer was killed when its shell exited');
    const error = await run.finish().then(() => undefined, (caught: unknown) => caught);
    assert.ok(error instanceof DumpFailedError, `a dump cut short counted as a success: ${String(error)}`);
    assert.match(error.message, /exited, but processes it started were still running .*; they were killed/);
  });
});

test('a dumper whose helpers end just after it, or stay only as zombies, succeeds', async (t) => {
  if (!isOnPath('perl')) {
    t.skip('perl is not installed: the zombie is made by a perl that forks and leaves the group');
    return;
  }
  await withFolder(async (folder) => {
    // As OpenSSH leaves its ProxyCommand (ssh -J) to end after it; and a helper whose parent left the
    // group with setsid and never reaps it (a zombie, as under a container's PID 1 that reaps nothing).
    const config = configOf([
      'source = helper', 'kind = command', "dump = printf 'all\\n'; (sleep 0.3) &", 'load = cat',
      'source = zombie', 'kind = command',
      "dump = printf 'all\\n'; perl -MPOSIX -e 'if (fork) { POSIX::setsid(); sleep 5 } else { exit 0 }' >/dev/null 2>&1 &", 'load = cat',
    ].join('\n'));
    const run = await startDumps(config, folder);
    const contents = await Promise.all(run.files.map((file) => readAll(run.openDump(file))));
    assert.deepEqual(contents.map(String), ['all\n', 'all\n']);
    await run.finish();
  });
});

test('a dumper that exits before ever writing: reading ends empty, finish rejects', async () => {
  await withFolder(async (folder) => {
    const config = configOf(`source = gone\nkind = command\ndump = exit 3\nload = cat\n`);
    const run = await startDumps(config, folder);
    // Give the dumper time to be gone before the reader starts: EOF must still come.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal((await readAll(run.openDump(run.files[0]))).length, 0);
    await assert.rejects(run.finish(), (error: unknown) => error instanceof DumpFailedError && /code 3/.test(error.message));
  });
});

test('a dumper killed by a signal, and one past its timeout, both fail the run', async () => {
  await withFolder(async (folder) => {
    const config = configOf([
      'source = signalled', 'kind = command', 'dump = kill -9 $$', 'load = cat',
      'source = slow', 'kind = command', 'dump = echo started; exec sleep 60', 'load = cat', 'timeout = 1',
    ].join('\n'));
    const run = await startDumps(config, folder);
    const contents = await Promise.all(run.files.map((file) => readAll(run.openDump(file))));
    assert.equal(contents[1].toString(), 'started\n');
    const error = await run.finish().then(() => undefined, (caught: unknown) => caught);
    assert.ok(error instanceof DumpFailedError);
    assert.equal(error.source, 'signalled');
    assert.match(error.message, /SIGKILL/);
    assert.match(error.message, /also failed: .*slow/);
  });
  await withFolder(async (folder) => {
    const config = configOf('source = slow\nkind = command\ndump = exec sleep 60\nload = cat\ntimeout = 1\n');
    const run = await startDumps(config, folder);
    await readAll(run.openDump(run.files[0]));
    await assert.rejects(run.finish(), /timed out after 1 s/);
  });
});

test('a FIFO nobody reads makes finish fail instead of waiting forever', async () => {
  await withFolder(async (folder) => {
    const config = configOf('source = unread\nkind = command\ndump = head -c 1000000 /dev/zero\nload = cat\n');
    const run = await startDumps(config, folder);
    await assert.rejects(run.finish(), DumpFailedError);
  });
});

test('abort kills running dumpers, removes the FIFOs and may be called twice', async () => {
  await withFolder(async (folder) => {
    const config = configOf('source = forever\nkind = command\ndump = while true; do echo data; done\nload = cat\n');
    const controller = new AbortController();
    const run = await startDumps(config, folder, { signal: controller.signal });
    const stream = run.openDump(run.files[0]);
    const reading = readAll(stream);
    controller.abort();
    await run.abort();
    await run.abort();
    await reading; // ends because the writer is dead
    await assert.rejects(lstat(run.files[0].path), { code: 'ENOENT' });
  });
});

test('a partial run uses dump_partial with {since}; sources without it dump completely', async () => {
  await withFolder(async (folder) => {
    const config = configOf([
      'source = rows', 'kind = command', 'dump = echo all', 'dump_partial = echo since {since}', 'load = cat', 'load_partial = cat',
      'source = plain', 'kind = command', 'dump = echo all', 'load = cat',
    ].join('\n'));
    const run = await startDumps(config, folder, { partialSince: new Date('2024-05-01T10:00:00Z') });
    const contents = await Promise.all(run.files.map(async (file) => (await readAll(run.openDump(file))).toString()));
    await run.finish();
    assert.deepEqual(contents, ['since 2024-05-01T10:00:00.000Z\n', 'all\n']);
  });
});

test('a restored dump not yet loaded blocks the next backup instead of being destroyed', async () => {
  await withFolder(async (folder) => {
    const config = configOf('source = app\nkind = command\ndump = echo new\nload = cat\n');
    await mkdir(join(folder, 'dumps', 'app'), { recursive: true });
    await writeFile(join(folder, 'dumps', 'app', 'dump'), 'kept after a failed load');
    await assert.rejects(startDumps(config, folder), /not a FIFO/);
    assert.equal(await readFile(join(folder, 'dumps', 'app', 'dump'), 'utf8'), 'kept after a failed load');
  });
});

test('the dump never lands in the work folder: only the FIFO is there while 64 MiB stream through', async () => {
  await withFolder(async (folder) => {
    const work = join(folder, 'work');
    const config = configOf('source = big\nkind = command\ndump = head -c 67108864 /dev/urandom\nload = cat\n');
    const run = await startDumps(config, work);
    let peakBytes = 0;
    let samples = 0;
    const sample = async (): Promise<void> => {
      samples += 1;
      let total = 0;
      for (const entry of await readdir(work, { recursive: true })) {
        const info = await lstat(join(work, entry));
        if (!info.isDirectory()) total += info.blocks * 512;
      }
      peakBytes = Math.max(peakBytes, total);
    };
    const target = join(folder, 'uploaded');
    let received = 0;
    const stream = run.openDump(run.files[0]);
    stream.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received % (8 * 1024 * 1024) < chunk.length) void sample();
    });
    await pipeline(stream, createWriteStream(target));
    await sample();
    await run.finish();
    assert.equal((await stat(target)).size, 67108864);
    console.log(`peak bytes in the work folder over ${samples} samples: ${peakBytes}`);
    assert.equal(peakBytes, 0);
  });
});

test('loaders: success deletes the file, failure keeps it with stderr, {file} passes the path', async () => {
  await withFolder(async (folder) => {
    const output = join(folder, 'loaded');
    const config = configOf([
      'source = good', 'kind = command', 'dump = true', `load = cat > '${output}'`,
      'source = bad', 'kind = command', 'dump = true', "load = echo 'ERROR: relation missing' >&2; exit 2",
      'source = named', 'kind = command', 'dump = true', `load = cp {file} '${output}.named'`,
      'source = piped', 'kind = command', 'dump = true', `load = sh -c 'cat > /dev/null; echo "psql: error: connection refused" >&2; exit 6' | cat`,
    ].join('\n'));
    const paths = ['good', 'bad', 'named s', 'piped'].map((name) => join(folder, 'dumps', name, 'dump'));
    for (const path of paths) {
      await mkdir(join(path, '..'), { recursive: true });
      await writeFile(path, `content of ${path}`);
    }
    const results = await loadRestoredDumps(config, [
      { path: paths[0], sourceName: 'good' },
      { path: paths[1], sourceName: 'bad' },
      { path: paths[2], sourceName: 'named' },
      { path: paths[2], sourceName: 'missing' },
      { path: paths[3], sourceName: 'piped' },
    ]);
    // Without bash (sh has no pipefail) the pipeline's last command still decides.
    const hasPipefail = isOnPath('bash');
    assert.deepEqual(results.map((result) => result.ok), [true, false, true, false, !hasPipefail]);
    if (hasPipefail) assert.match(results[4].error ?? '', /code 6[\s\S]*connection refused/, 'the failed loader was hidden by the pipeline\'s last command');
    assert.match(results[1].error ?? '', /code 2[\s\S]*relation missing/);
    assert.equal(await readFile(output, 'utf8'), `content of ${paths[0]}`);
    assert.equal(await readFile(`${output}.named`, 'utf8'), `content of ${paths[2]}`);
    await assert.rejects(stat(paths[0]), { code: 'ENOENT' });
    assert.ok((await stat(paths[1])).isFile());
    assert.match(results[3].error ?? '', /no source "missing"/);
  });
});

test('dumpSourceOfPath maps a restored path to its source, and nothing else', () => {
  const config = configOf('source = pg\nkind = command\ndump = true\nload = cat\nsource = mongo\nkind = mongodb\nuri = mongodb://x\ndatabase = d\n');
  assert.equal(dumpSourceOfPath(config, '/var/lib/cpsbackup', '/var/lib/cpsbackup/dumps/pg/dump'), 'pg');
  assert.equal(dumpSourceOfPath(config, '/var/lib/cpsbackup', '/elsewhere/dumps/mongo/events.bson'), 'mongo');
  assert.equal(dumpSourceOfPath(config, '/var/lib/cpsbackup', '/var/lib/cpsbackup/dumps/pg/other'), undefined);
  assert.equal(dumpSourceOfPath(config, '/var/lib/cpsbackup', '/var/lib/cpsbackup/dumps/nosuch/dump'), undefined);
  assert.equal(dumpSourceOfPath(config, '/var/lib/cpsbackup', '/home/user/pg/dump'), undefined);
});

test('storage.conf errors name the file and line', () => {
  const cases: [string, number, RegExp][] = [
    ['kind = command\n', 1, /before any "source ="/],
    ['source = a\nkind = command\ndump = x\nload = y\ncolour = red\n', 5, /unknown key "colour"/],
    ['source = a\nkind = command\nload = y\n', 1, /needs "dump ="/],
    ['source = a\n', 1, /no "kind ="/],
    ['source = a\nkind = oracle\n', 2, /kind must be/],
    ['source = a\nkind = sqlite\npath = /x\nsource = a\nkind = sqlite\npath = /y\n', 4, /duplicate source "a"/],
    ['source = -bad\nkind = sqlite\npath = /x\n', 1, /invalid source name/],
    ['source = a/b\nkind = sqlite\npath = /x\n', 1, /invalid source name/],
    ['source = a\nkind = sqlite\npath = relative.db\n', 3, /absolute/],
    ['source = a\nkind = sqlite\npath = /x\ndump = y\n', 4, /does not apply/],
    ['source = a\nkind = command\ndump = x\nload = y\ndump_partial = z\nload_partial = w\n', 5, /\{since\}/],
    ['source = a\nkind = command\ndump = x\nload = y\ndump_partial = z {since}\n', 5, /go together/],
    ['source = a\nkind = command\ndump = x\nload = y\ntimeout = soon\n', 5, /integer/],
    ['source = a\nkind = command\ndump = x\ndump = z\nload = y\n', 4, /only once/],
  ];
  for (const [text, line, message] of cases) {
    assert.throws(() => configOf(text), (error: unknown) => {
      assert.ok(error instanceof ConfigError, `${text}: ${String(error)}`);
      assert.equal(error.file, 'storage.conf');
      assert.equal(error.line, line, text);
      assert.match(error.message, message);
      assert.match(error.message, new RegExp(`^storage\\.conf:${line}: `));
      return true;
    });
  }
  const config = configOf('# example\nsource = m\nkind = mongodb\nuri = mongodb://h\ndatabase = d\ncollection = a\ncollection = b\nsince_field = updatedAt\ntimeout = 60\n');
  assert.deepEqual(config.sources[0], {
    name: 'm', kind: 'mongodb', line: 2, timeoutSeconds: 60, versionCommand: undefined,
    uri: 'mongodb://h', database: 'd', collections: ['a', 'b'], sinceField: 'updatedAt',
  });
  assert.ok(Object.isFrozen(config.sources[0]));
});

test('the example etc/backup/storage.conf.example parses', () => {
  const config = loadStorageConfig(join(__dirname, '..', '..', 'etc', 'backup', 'storage.conf.example'));
  assert.deepEqual(config.sources.map((source) => `${source.name}:${source.kind}`), [
    'canopsis-postgres:command', 'jira-mariadb:command', 'app-sqlite:sqlite', 'canopsis-mongo:mongodb',
    'shop-postgres:postgresql', 'crm-mariadb:mariadb',
  ]);
  assert.throws(() => loadStorageConfig(join(__dirname, 'no-such-storage.conf')), (error: unknown) => error instanceof ConfigError && /file not found/.test(error.message));
});

test('a dump file restored under a running backup\'s FIFO name outlives that backup\'s end', async () => {
  await withFolder(async (folder) => {
    const config = configOf(`source = app\nkind = command\ndump = printf 'rows'\nload = cat\n`);
    const run = await startDumps(config, folder);
    const fifo = run.files[0].path;
    assert.equal((await readAll(run.openDump(run.files[0]))).toString(), 'rows');
    // A restore beside it (-i, a receive) puts the dump it restores under the same name, to be loaded.
    await writeFile(`${fifo}.restored`, 'restored rows');
    await rename(`${fifo}.restored`, fifo);
    await run.finish();
    assert.equal(await readFile(fifo, 'utf8'), 'restored rows', 'the backup removed the restored dump at its end');
  });
});
