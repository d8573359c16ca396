// Proves receive_files through the real CLI: a receiver loads prod's dump into its database and restores
// prod's include folder byte-identical under receive_to (and no dump file with it), and follows -i's
// overwrite rules: a differing file is kept and reported (exit 3) by default, replaced with --overwrite,
// and replaced only when older than the backup's copy with receive_overwrite = if-newer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, utimes, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox, type CommandResult } from './support/sandbox';
import { createSampleTree, snapshotTree, treeDifferences, writeDeterministicFile } from './support/trees';

function expectCode(result: CommandResult, code: number, what: string): CommandResult {
  assert.equal(result.code, code, `${what} exited ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

/** Every path under root, relative, folders included. */
async function allPaths(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true });
  return entries.map(String).sort();
}

test('receive_files: prod\'s include folder comes back under receive_to byte-identical, with -i\'s overwrite rules', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['prod'] });
  await sandbox.addClient('replica', ['restore_client = prod']);
  await sandbox.addClient('mirror', ['restore_client = prod']);
  t.after(() => sandbox.destroy());
  await sandbox.startServer();
  const media = join(sandbox.root, 'prod', 'srv', 'media');
  await mkdir(media, { recursive: true });
  await createSampleTree(media);
  const generation = join(sandbox.root, 'generation');
  await writeFile(generation, '1\n');
  const prodStorage = join(sandbox.root, 'prod-storage.conf');
  await writeFile(prodStorage, ['source = app', 'kind = command', `dump = echo "db $(cat ${generation})"`, 'load = cat > /dev/null', ''].join('\n'));
  const loaded = join(sandbox.root, 'replica-loaded.log');
  const replicaStorage = join(sandbox.root, 'replica-storage.conf');
  await writeFile(replicaStorage, ['source = app', 'kind = command', 'dump = true', `load = cat >> ${loaded}`, ''].join('\n'));
  const prod = await sandbox.writeNodeConfig('prod', [`include = ${media}`, `storage_conf = ${prodStorage}`]);
  const receiveTo = join(sandbox.root, 'replica-files');
  const replicaLines = [`storage_conf = ${replicaStorage}`, 'receive_files = 1', `receive_to = ${receiveTo}`];
  const replica = await sandbox.writeNodeConfig('replica', replicaLines);
  const receive = (extra: string[] = []) => sandbox.runClient(['-c', replica, '-i', '--client', 'prod', '--if-new', ...extra]);
  const copyOf = (path: string): string => join(receiveTo, path);
  const assertIdentical = async (): Promise<void> => {
    assert.deepEqual(treeDifferences(await snapshotTree(media), await snapshotTree(copyOf(media))), []);
  };

  expectCode(await sandbox.runClient(['-c', prod, '-e']), 0, 'prod -e');

  await t.test('the first receive loads the dump and restores the include folder, and nothing else, under receive_to', async () => {
    const result = expectCode(await receive(), 0, 'receive');
    assert.match(result.stdout, /^Received backup 1 of prod: 1 dumps loaded, \d+ files restored under .*replica-files; backup 1 recorded as applied$/m);
    assert.equal(await readFile(loaded, 'utf8'), 'db 1\n');
    await assertIdentical();
    // Only the include and the folders above it: the dump stayed out.
    const outside = (await allPaths(receiveTo)).filter((path) => !`/${path}`.startsWith(media) && !media.startsWith(`/${path}/`));
    assert.deepEqual(outside, []);
  });

  await t.test('by default a file changed here is kept and reported (exit 3); the rest follows prod', async () => {
    await writeFile(join(media, 'docs', 'readme.txt'), 'prod edited this\n');
    await writeDeterministicFile(join(media, 'data', 'new.bin'), 'new', 40_000);
    await writeFile(generation, '2\n');
    expectCode(await sandbox.runClient(['-c', prod, '-e']), 0, 'prod -e (2)');
    await writeFile(copyOf(join(media, 'docs', 'readme.txt')), 'the replica edited this\n');
    const result = expectCode(await receive(), 3, 'receive (2)');
    assert.match(result.stderr, /^not replaced: .*docs\/readme\.txt: exists and differs from the backup; kept/m);
    assert.match(result.stdout, /not all restored as it is in the backup: see the line above/);
    assert.equal(await readFile(copyOf(join(media, 'docs', 'readme.txt')), 'utf8'), 'the replica edited this\n');
    assert.deepEqual(await readFile(copyOf(join(media, 'data', 'new.bin'))), await readFile(join(media, 'data', 'new.bin')));
    assert.equal(await readFile(loaded, 'utf8'), 'db 1\ndb 2\n');
  });

  await t.test('--overwrite replaces it, as with -i', async () => {
    expectCode(await sandbox.runClient(['-c', prod, '-e']), 0, 'prod -e (3)');
    expectCode(await receive(['--overwrite']), 0, 'receive --overwrite');
    await assertIdentical();
  });

  await t.test('receive_overwrite = if-newer replaces what is older than the backup\'s copy and keeps what is newer', async () => {
    await sandbox.writeNodeConfig('replica', [...replicaLines, 'receive_overwrite = if-newer']);
    await writeFile(join(media, 'run.sh'), '#!/bin/sh\necho prod\n');
    await writeFile(join(media, 'docs', 'readme.txt'), 'prod edited this again\n');
    expectCode(await sandbox.runClient(['-c', prod, '-e']), 0, 'prod -e (4)');
    const older = copyOf(join(media, 'run.sh'));
    await writeFile(older, 'older here\n');
    await utimes(older, new Date('2001-01-01T00:00:00Z'), new Date('2001-01-01T00:00:00Z'));
    const newer = copyOf(join(media, 'docs', 'readme.txt'));
    await writeFile(newer, 'newer here\n');
    const future = new Date(Date.now() + 3600_000);
    await utimes(newer, future, future);
    const result = expectCode(await receive(), 3, 'receive if-newer');
    assert.match(result.stderr, /not replaced: .*docs\/readme\.txt/);
    assert.doesNotMatch(result.stderr, /run\.sh/);
    assert.equal(await readFile(older, 'utf8'), '#!/bin/sh\necho prod\n');
    assert.equal(await readFile(newer, 'utf8'), 'newer here\n');
  });

  await t.test('a files-only receiver (no storage.conf) restores the files and leaves the dumps on the server', async () => {
    const mirrorTo = join(sandbox.root, 'mirror-files');
    // No --client: node.conf's receive_client (the client the daemon's receive job follows) is the one.
    const mirror = await sandbox.writeNodeConfig('mirror', ['receive_files = 1', `receive_to = ${mirrorTo}`, 'receive_client = prod']);
    const result = expectCode(await sandbox.runClient(['-c', mirror, '-i', '--if-new']), 0, 'mirror receive');
    assert.match(result.stderr, /dumps not loaded \(no storage\.conf\)/);
    assert.match(result.stdout, /: 0 dumps loaded, \d+ files restored under .*mirror-files;/);
    assert.deepEqual(treeDifferences(await snapshotTree(media), await snapshotTree(join(mirrorTo, media))), []);
    const outside = (await allPaths(mirrorTo)).filter((path) => !`/${path}`.startsWith(media) && !media.startsWith(`/${path}/`));
    assert.deepEqual(outside, []);
  });

  await t.test('receive_to without receive_files, or receive_files without receive_to, is a configuration error', async () => {
    for (const [lines, message] of [
      [[`receive_to = ${receiveTo}`], /replica\.conf:\d+: receive_to has no effect without receive_files = 1/],
      [['receive_files = 1'], /replica\.conf:\d+: receive_files = 1 needs receive_to/],
      [['receive_files = 1', `receive_to = ${receiveTo}`, 'receive_overwrite = sometimes'], /receive_overwrite must be never, if-newer or always/],
    ] as const) {
      await sandbox.writeNodeConfig('replica', [`storage_conf = ${replicaStorage}`, ...lines]);
      const result = expectCode(await receive(), 2, lines.join(', '));
      assert.match(result.stderr, message);
    }
  });
});
