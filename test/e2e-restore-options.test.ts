// A restore never surprises: at the original paths an existing file that differs from the backup is
// kept unless --overwrite says otherwise (always, if-newer), and reported; --include, -r and --strip
// restore exactly the part asked for (with its folders); -i --to never runs loaders unless --load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, rename, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';

async function setUp(t: { after(fn: () => Promise<void>): void }, extraLines: string[] = []): Promise<{ sandbox: Sandbox; data: string; run: (args: string[]) => Promise<{ code: number | null; stdout: string; stderr: string }> }> {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  await mkdir(join(data, 'etc', 'app'), { recursive: true });
  await mkdir(join(data, 'var', 'log'), { recursive: true });
  await writeFile(join(data, 'etc', 'app', 'app.conf'), 'listen = 8080\n');
  await writeFile(join(data, 'etc', 'app', 'notes.txt'), 'notes\n');
  await writeFile(join(data, 'var', 'log', 'app.log'), 'started\n');
  await writeFile(join(data, 'README'), 'what lies here\n');
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`, ...extraLines]);
  const run = (args: string[]) => sandbox.runClient(['-c', config, ...args]);
  const backup = await run(['-e']);
  assert.equal(backup.code, 0, backup.stderr);
  return { sandbox, data, run };
}

test('original paths: a file that differs is kept and reported unless --overwrite; identical files are left alone', async (t) => {
  const { data, run } = await setUp(t);
  const conf = join(data, 'etc', 'app', 'app.conf');
  const log = join(data, 'var', 'log', 'app.log');
  await writeFile(conf, 'listen = 9090  # changed by hand after the backup\n');
  await writeFile(log, 'started\nmore lines since\n');
  const old = new Date('2001-01-01T00:00:00Z');
  await utimes(log, old, old); // older than the backup's copy: if-newer replaces it

  const kept = await run(['-i']);
  assert.equal(kept.code, 3, kept.stdout + kept.stderr);
  assert.match(kept.stderr, new RegExp(`not replaced: ${conf}: exists and differs from the backup; kept \\(--overwrite replaces it\\)`));
  assert.equal(await readFile(conf, 'utf8'), 'listen = 9090  # changed by hand after the backup\n');
  assert.doesNotMatch(kept.stderr, /notes\.txt/, 'an identical file is not a conflict');

  const ifNewer = await run(['-i', '--overwrite=if-newer']);
  assert.equal(ifNewer.code, 3, ifNewer.stderr);
  assert.equal(await readFile(log, 'utf8'), 'started\n', 'the older file on disk was replaced');
  assert.equal(await readFile(conf, 'utf8'), 'listen = 9090  # changed by hand after the backup\n', 'the newer one was kept');
  // Not "--overwrite replaces it": --overwrite=if-newer was given, and would not.
  assert.match(ifNewer.stderr, new RegExp(`not replaced: ${conf}: exists and differs from the backup; kept \\(not older than the backup's copy; --overwrite=always replaces it\\)`));

  const always = await run(['-i', '--overwrite']);
  assert.equal(always.code, 0, always.stderr);
  assert.equal(await readFile(conf, 'utf8'), 'listen = 8080\n');
});

test('--include, -r and --strip restore exactly the part asked for, with its folders', async (t) => {
  const { sandbox, data, run } = await setUp(t);
  const included = join(sandbox.root, 'included');
  assert.equal((await run(['-i', '--to', included, '--include', join(data, 'etc')])).code, 0);
  assert.deepEqual((await readdir(join(included, data))).sort(), ['etc']);
  assert.deepEqual((await readdir(join(included, data, 'etc', 'app'))).sort(), ['app.conf', 'notes.txt']);

  // Every spelling of a path names it; one the backup does not hold, or a pattern that matches nothing, is exit 3.
  const slashed = join(sandbox.root, 'slashed');
  const spelled = await run(['-i', '--to', slashed, '--include', `${data}//etc/./app/`]);
  assert.equal(spelled.code, 0, spelled.stderr);
  assert.deepEqual((await readdir(join(slashed, data, 'etc', 'app'))).sort(), ['app.conf', 'notes.txt']);
  const missing = await run(['-i', '--to', join(sandbox.root, 'missing'), '--include', join(data, 'etc'), '--include', join(data, 'ect')]);
  assert.equal(missing.code, 3, missing.stderr);
  assert.match(missing.stderr, new RegExp(`${join(data, 'ect')}: not in backup 0000001 \\(nothing at or below this path`));
  assert.doesNotMatch(missing.stderr, new RegExp(`${join(data, 'etc')}:`));
  const relative = await run(['-i', '--to', join(sandbox.root, 'relative'), '--include', 'etc']);
  assert.equal(relative.code, 2, relative.stderr);
  assert.match(relative.stderr, /give the absolute path as the backup holds it/);
  const nothing = await run(['-i', '--to', join(sandbox.root, 'nothing'), '-r', '\\.nope$']);
  assert.equal(nothing.code, 3, nothing.stderr);
  assert.match(nothing.stderr, /-r "\\\\.nope\$": no path in backup 0000001 matches it/);

  const matched = join(sandbox.root, 'matched');
  assert.equal((await run(['-i', '--to', matched, '-r', '\\.conf$'])).code, 0);
  assert.deepEqual(await readdir(join(matched, data, 'etc', 'app')), ['app.conf']);
  await assert.rejects(stat(join(matched, data, 'var')), { code: 'ENOENT' });
  // The folders above a match come back with their own metadata, not as bare 0700 folders.
  assert.equal((await stat(join(matched, data, 'etc'))).mode & 0o7777, (await stat(join(data, 'etc'))).mode & 0o7777);

  const refused = await run(['-i', '--to', join(sandbox.root, 'never'), '-r', '(a)\\1']);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /cannot be used: it needs backtracking/);

  const stripped = join(sandbox.root, 'stripped');
  const depth = data.split('/').length - 1; // the components of data itself
  assert.equal((await run(['-i', '--to', stripped, '--strip', String(depth)])).code, 0);
  assert.deepEqual((await readdir(stripped)).sort(), ['README', 'etc', 'var']);
  assert.equal(await readFile(join(stripped, 'etc', 'app', 'app.conf'), 'utf8'), 'listen = 8080\n');
  // One more component strips data/README's own folder level: the file is reported, not lost without a word.
  const deeper = await run(['-i', '--to', join(sandbox.root, 'deeper'), '--strip', String(depth + 1)]);
  assert.equal(deeper.code, 3, deeper.stderr);
  assert.match(deeper.stderr, new RegExp(`${join(data, 'README')}: not restored: it lies within the leading components that --strip ${depth + 1} drops`));
  assert.equal(await readFile(join(sandbox.root, 'deeper', 'app', 'app.conf'), 'utf8'), 'listen = 8080\n');
  const noTarget = await run(['-i', '--strip', '1']);
  assert.equal(noTarget.code, 2, 'a usage error');
  assert.match(noTarget.stderr, /--strip needs --to/);
});

test('-i --to never runs loaders unless --load; to the original place it does', async (t) => {
  const { sandbox } = await setUp(t);
  const marker = join(sandbox.root, 'loaded-marker');
  const storage = join(sandbox.root, 'storage.conf');
  await writeFile(storage, ['source = app', 'kind = command', `dump = printf 'rows\\n'`, `load = cat > ${marker}`, ''].join('\n'));
  const config = await sandbox.writeNodeConfig('node1', [`include = ${join(sandbox.root, 'data')}`, `storage_conf = ${storage}`]);
  const cli = (args: string[]) => sandbox.runClient(['-c', config, ...args]);
  const backup = await cli(['-e']);
  assert.equal(backup.code, 0, backup.stderr);

  const elsewhere = await cli(['-i', '--to', join(sandbox.root, 'elsewhere')]);
  assert.equal(elsewhere.code, 0, elsewhere.stderr);
  assert.match(elsewhere.stdout, /1 dump files restored, not loaded \(restored --to a folder: add --load to load them into the databases\)/);
  await assert.rejects(stat(marker), { code: 'ENOENT' }, 'nothing was loaded into the live database');

  const loaded = await cli(['-i', '--to', join(sandbox.root, 'elsewhere-2'), '--load']);
  assert.equal(loaded.code, 0, loaded.stdout + loaded.stderr);
  assert.equal(await readFile(marker, 'utf8'), 'rows\n');
  // A node.conf without storage_conf (nor one beside it) cannot load what -i is asked to load: the dumps come back as files, exit 3.
  await rename(storage, `${storage}.away`);
  const bare = await sandbox.writeNodeConfig('node1', [`include = ${join(sandbox.root, 'data')}`]);
  const unloaded = await sandbox.runClient(['-c', bare, '-i', '--to', join(sandbox.root, 'elsewhere-3'), '--load']);
  assert.equal(unloaded.code, 3, unloaded.stdout + unloaded.stderr);
  assert.match(unloaded.stderr, new RegExp(`error: 1 dump files restored, not loaded: ${bare} names no storage_conf and has no storage.conf beside it .*--no-load`));
  const asFiles = await sandbox.runClient(['-c', bare, '-i', '--to', join(sandbox.root, 'elsewhere-4'), '--no-load']);
  assert.equal(asFiles.code, 0, asFiles.stdout + asFiles.stderr);
  assert.match(asFiles.stdout, /1 dump files restored, not loaded \(--no-load\)/);
});
