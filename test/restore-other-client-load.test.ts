// Regression: `-i ID --client OTHER` in place, with no --load, loaded OTHER's dumps into this node's live
// databases (exit 0) whenever both nodes share a work_directory path, as the shipped node.conf has them, and
// receive_ignore, which keeps such a source out of a receive, did not apply. Now another client's dumps are
// restored as files and loaded only with --load, and then not those of a source receive_ignore names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, nodeConfigLines } from './support/sandbox';

test('another client\'s backup restored in place loads its dumps only with --load, and never a receive_ignore source', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['n1'] });
  t.after(() => sandbox.destroy());
  await sandbox.addClient('n2', ['restore_client = n1']);
  const server = await sandbox.startServer();
  const root = sandbox.root;
  const files = join(root, 'files');
  await mkdir(files);
  await writeFile(join(files, 'f'), 'f\n');
  // One work_directory path for both nodes, as on two machines installed alike.
  const work = join(root, 'work-shared');
  const dump = join(work, 'dumps', 'app', 'dump');
  const nodeConfig = async (name: string, database: string, extra: readonly string[]): Promise<string> => {
    const storage = join(root, `storage-${name}.conf`);
    await writeFile(storage, ['source = app', 'kind = command', `dump = cat ${database}`, `load = cat > ${database}`, ''].join('\n'));
    const file = join(root, `${name}.conf`);
    const lines = nodeConfigLines(sandbox, name.slice(0, 2), server.port).filter((line) => !line.startsWith('work_directory'));
    await writeFile(file, [...lines, `work_directory = ${work}`, `include = ${files}`, `storage_conf = ${storage}`, ...extra, ''].join('\n'));
    return file;
  };
  const n1Database = join(root, 'db-n1.txt');
  const n2Database = join(root, 'db-n2.txt');
  await writeFile(n1Database, 'n1 data\n');
  await writeFile(n2Database, 'n2 LIVE data\n');
  const n1 = await nodeConfig('n1', n1Database, []);
  const n2 = await nodeConfig('n2', n2Database, ['receive_ignore = app']);
  const n2Loading = await nodeConfig('n2-loading', n2Database, []);
  assert.equal((await sandbox.runClient(['-c', n1, '-e'])).code, 0);

  const unasked = await sandbox.runClient(['-c', n2, '-i', '1', '--client', 'n1']);
  assert.equal(unasked.code, 0, `${unasked.stdout}${unasked.stderr}`);
  assert.doesNotMatch(unasked.stdout, /loaded app/);
  assert.match(unasked.stdout, /1 dump files restored, not loaded \(another client's backup \(--client n1\): add --load/);
  assert.equal(await readFile(n2Database, 'utf8'), 'n2 LIVE data\n');
  assert.equal(await readFile(dump, 'utf8'), 'n1 data\n', 'the dump is restored as a file');
  await rm(dump);

  const ignored = await sandbox.runClient(['-c', n2, '-i', '1', '--client', 'n1', '--load']);
  assert.equal(ignored.code, 3, `${ignored.stdout}${ignored.stderr}`);
  assert.match(ignored.stderr, /load of app failed, \S+ kept: not loaded: receive_ignore \(node\.conf\) leaves this source of another client's backups out/);
  assert.equal(await readFile(n2Database, 'utf8'), 'n2 LIVE data\n');
  await rm(dump);

  const asked = await sandbox.runClient(['-c', n2Loading, '-i', '1', '--client', 'n1', '--load']);
  assert.equal(asked.code, 0, `${asked.stdout}${asked.stderr}`);
  assert.match(asked.stdout, /loaded app/);
  assert.equal(await readFile(n2Database, 'utf8'), 'n1 data\n');
  assert.equal(existsSync(dump), false);

  // The node's own backup, in place: loaded without --load, as README says.
  await writeFile(n1Database, 'n1 changed\n');
  const own = await sandbox.runClient(['-c', n1, '-i', '1']);
  assert.equal(own.code, 0, `${own.stdout}${own.stderr}`);
  assert.match(own.stdout, /loaded app/);
  assert.equal(await readFile(n1Database, 'utf8'), 'n1 data\n');
});
