// Proves through the real CLI how partial backups chain, with command sources that log each load:
// the `since` sent to dump_partial, the order of loads, a failed link stopping the chain, and the
// refusals (no backup to be partial to; a partial whose complete backup was deleted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox, type CommandResult } from './support/sandbox';
import { chunksOfFile, flipByte, packFile } from './support/fault-tools';
import { RECORD_HEADER_SIZE } from '../src/chunkstore/pack/pack-format';
import { DUMPS_STARTED_LABEL, PARTIAL_OVERLAP_MILLISECONDS } from '../src/client/partial-since';

interface Listed {
  id: number;
  kind: string;
  labels: Record<string, string>;
}

function exited(result: CommandResult, code: number, what: string): CommandResult {
  assert.equal(result.code, code, `${what} exited ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

test('partial backups chain: since from the last dump start, loads in order, a failed link stops the chain', async () => {
  const sandbox = await Sandbox.create();
  try {
    await sandbox.startServer();
    const log = join(sandbox.root, 'loads.log');
    const storage = join(sandbox.root, 'storage.conf');
    const writeStorage = (load: string): Promise<void> => writeFile(storage, [
      'source = app', 'kind = command',
      `dump = echo "complete $(cat ${join(sandbox.root, 'generation')})"`,
      `load = ${load}`,
      `dump_partial = echo "changes since {since}, generation $(cat ${join(sandbox.root, 'generation')})"`,
      `load_partial = sh -c 'cat >> ${log}'`,
      '',
    ].join('\n'));
    await writeStorage(`sh -c 'cat >> ${log}'`);
    const config = await sandbox.writeNodeConfig('node1', [`storage_conf = ${storage}`]);
    const cli = (...args: string[]): Promise<CommandResult> => sandbox.runClient(['-c', config, ...args]);
    const generation = (value: number): Promise<void> => writeFile(join(sandbox.root, 'generation'), `${value}\n`);
    const listed = async (): Promise<Listed[]> => JSON.parse(exited(await cli('-l', '--json'), 0, '-l').stdout) as Listed[];

    await generation(1);
    const refused = await cli('-e', '--partial');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /a partial backup needs a complete one/);

    exited(await cli('-e'), 0, '-e');
    await generation(2);
    exited(await cli('-e', '--partial'), 0, 'first -e --partial');
    await generation(3);
    exited(await cli('-e', '--partial'), 0, 'second -e --partial');
    const backups = await listed();
    assert.deepEqual(backups.map((backup) => backup.kind), ['complete', 'partial', 'partial']);
    // Which backups can bring the database back, in the plain list too (it was seen only with -s).
    assert.match(exited(await cli('-l'), 0, '-l').stdout, /^Backup: 0*\d+ \S+ \S+ complete \(dumps: app\)$/m);
    const since = (index: number): string => new Date(Date.parse(backups[index].labels[DUMPS_STARTED_LABEL]) - PARTIAL_OVERLAP_MILLISECONDS).toISOString();

    exited(await cli('-i'), 0, '-i of the newest partial');
    assert.equal(await readFile(log, 'utf8'), [
      'complete 1', `changes since ${since(0)}, generation 2`, `changes since ${since(1)}, generation 3`, '',
    ].join('\n'), 'the complete dump, then each partial in order, each since the dump before it');

    await rm(log);
    exited(await cli('-i', String(backups[0].id)), 0, '-i of the complete backup');
    assert.equal(await readFile(log, 'utf8'), 'complete 1\n', 'a complete backup stands alone');

    // A chain link that fails to load: applying later partials on top would build a state that never was.
    await rm(log);
    await writeStorage(`sh -c 'echo "restore refused" >&2; exit 5'`);
    const broken = exited(await cli('-i'), 3, '-i with a failing complete loader');
    assert.match(broken.stderr, /load of app failed.*\n?.*restore refused/);
    assert.match(broken.stderr, new RegExp(`app not loaded from backups 0*${backups[1].id}, 0*${backups[2].id}: its load from backup 0*${backups[0].id} failed`));
    await assert.rejects(readFile(log, 'utf8'), { code: 'ENOENT' }, 'no partial was loaded');
    await rm(join(sandbox.root, 'work', 'node1', 'dumps', 'app', 'dump')); // the kept file, handled by the operator

    // The complete backup the partials stand on cannot be deleted on its own: without it they cannot be loaded.
    const baseRefusal = await cli('-d', String(backups[0].id));
    assert.equal(baseRefusal.code, 12, baseRefusal.stderr);
    assert.match(baseRefusal.stderr, new RegExp(`is the base of partial backups ${backups[1].id}, ${backups[2].id}; deleting it needs --force`));
    exited(await cli('-d', String(backups[0].id), '--force'), 0, '-d --force of the complete backup');
    const afterDelete = exited(await cli('-l'), 0, '-l after the forced delete');
    assert.equal(afterDelete.stdout, '', 'the partials went with their base');
  } finally {
    await sandbox.destroy();
  }
});

test('-i --include or -r of a partial backup loads only the dumps the selection covers, of every backup of the chain', async () => {
  const sandbox = await Sandbox.create();
  try {
    await sandbox.startServer();
    const data = join(sandbox.root, 'data');
    await mkdir(data);
    await writeFile(join(data, 'settings.txt'), 'app settings\n');
    const logOf = (source: string): string => join(sandbox.root, `${source}.log`);
    const storage = join(sandbox.root, 'storage.conf');
    await writeFile(storage, ['app', 'other'].flatMap((source) => [
      `source = ${source}`, 'kind = command',
      `dump = echo "${source} complete"`, `load = sh -c 'cat >> ${logOf(source)}'`,
      `dump_partial = echo "${source} since {since}"`, `load_partial = sh -c 'cat >> ${logOf(source)}'`,
    ]).join('\n') + '\n');
    const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`, `storage_conf = ${storage}`]);
    const cli = (...args: string[]): Promise<CommandResult> => sandbox.runClient(['-c', config, ...args]);
    exited(await cli('-e'), 0, '-e');
    exited(await cli('-e', '--partial'), 0, 'first -e --partial');
    exited(await cli('-e', '--partial'), 0, 'second -e --partial');
    const loaded = async (source: string): Promise<string[]> => {
      const text = await readFile(logOf(source), 'utf8').catch(() => '');
      await rm(logOf(source), { force: true });
      return text.split('\n').filter((line) => line !== '').map((line) => line.replace(/since .*/, 'since'));
    };

    exited(await cli('-i', '--include', join(data, 'settings.txt')), 0, '-i --include of a file');
    assert.deepEqual([await loaded('app'), await loaded('other')], [[], []], 'a file asked for loaded every earlier dump into the live databases');

    const appDumps = join(sandbox.root, 'work', 'node1', 'dumps', 'app');
    exited(await cli('-i', '--include', appDumps), 0, '-i --include of one source\'s dumps');
    assert.deepEqual(await loaded('app'), ['app complete', 'app since', 'app since']);
    assert.deepEqual(await loaded('other'), [], 'the other source was taken back to an earlier backup');

    exited(await cli('-i', '-r', '/dumps/other/'), 0, '-i -r of the other source\'s dumps');
    assert.deepEqual([await loaded('app'), await loaded('other')], [[], ['other complete', 'other since', 'other since']]);

    // A middle partial cannot go alone: the one after it holds only the changes since it.
    const numbers = (JSON.parse(exited(await cli('-l', '--json'), 0, '-l').stdout) as Listed[]).map((backup) => backup.id);
    const refusal = await cli('-d', String(numbers[1]));
    assert.equal(refusal.code, 12, refusal.stdout + refusal.stderr);
    assert.match(refusal.stderr, new RegExp(`is a link the later partial backup ${numbers[2]} stands on; deleting it needs --force`));
    exited(await cli('-d', String(numbers[1]), '--force'), 0, '-d --force of the middle partial');
    assert.deepEqual((JSON.parse(exited(await cli('-l', '--json'), 0, '-l').stdout) as Listed[]).map((backup) => backup.id), [numbers[0]]);
  } finally {
    await sandbox.destroy();
  }
});

test('a partial dump is loaded by load_partial only, as recorded when it was dumped, whatever storage.conf says now', async () => {
  const sandbox = await Sandbox.create();
  try {
    await sandbox.startServer();
    const log = join(sandbox.root, 'loads.log');
    const storage = join(sandbox.root, 'storage.conf');
    const plain = ['source = plain', 'kind = command', 'dump = echo "plain whole"', `load = sh -c 'sed "s/^/plain load: /" >> ${log}'`];
    await writeFile(storage, [
      'source = app', 'kind = command', 'dump = echo "app whole"', `load = sh -c 'sed "s/^/app load: /" >> ${log}'`,
      'dump_partial = echo "app changes {since}" | cut -d" " -f1-2', `load_partial = sh -c 'sed "s/^/app load_partial: /" >> ${log}'`, ...plain, '',
    ].join('\n'));
    const config = await sandbox.writeNodeConfig('node1', [`storage_conf = ${storage}`]);
    const cli = (...args: string[]): Promise<CommandResult> => sandbox.runClient(['-c', config, ...args]);
    exited(await cli('-e'), 0, '-e');
    exited(await cli('-e', '--partial'), 0, '-e --partial');
    const listed = JSON.parse(exited(await cli('-l', '--json'), 0, '-l').stdout) as Listed[];
    assert.deepEqual(listed.map((backup) => backup.labels['dumps.partial_sources']), [undefined, 'app'],
      'plain has no dump_partial: dumped whole in the partial backup too');
    assert.deepEqual(listed.map((backup) => backup.labels['dumps.partial_of']), [undefined, String(listed[0].id)], 'the backup it continues');

    exited(await cli('-i'), 0, '-i as configured when dumped');
    assert.equal(await readFile(log, 'utf8'), 'app load: app whole\nplain load: plain whole\napp load_partial: app changes\nplain load: plain whole\n');
    await rm(log);

    // storage.conf changed since (or a receiver's, which has no reason to name load_partial): app's
    // partial dump is not given to `load`, which would take it for the whole database.
    await writeFile(storage, ['source = app', 'kind = command', 'dump = echo "app whole"', `load = sh -c 'sed "s/^/app load: /" >> ${log}'`, ...plain, ''].join('\n'));
    const refused = exited(await cli('-i'), 3, '-i without load_partial');
    assert.match(refused.stderr, /load of app failed[\s\S]*holds only the changes since the backup before it, and storage.conf has no load_partial/);
    assert.equal(await readFile(log, 'utf8'), 'app load: app whole\nplain load: plain whole\nplain load: plain whole\n',
      'the partial dump went to load (each source of a backup loads on its own)');
    await rm(log);
    await rm(join(sandbox.root, 'work', 'node1', 'dumps'), { recursive: true, force: true }); // the kept files

    // A source storage.conf no longer names: its dump is kept and reported, not left unloaded without a word.
    await writeFile(storage, [...plain, ''].join('\n'));
    const unnamed = exited(await cli('-i'), 3, '-i with a source storage.conf does not name');
    assert.match(unnamed.stderr, /load of app failed[\s\S]*no source "app" in .*storage\.conf; file kept/);
    assert.equal(await readFile(log, 'utf8'), 'plain load: plain whole\nplain load: plain whole\n',
      'a dump no source loads stops no later backup of the chain: none stands on it here');
    assert.equal(unnamed.stderr.match(/no source "app"/g)?.length, 2, unnamed.stderr);
  } finally {
    await sandbox.destroy();
  }
});

// Regression: a partial dumped a source the base backup never held (added to storage.conf since, or
// pointed at other data) as changes only; the chain's restore loaded just those changes, exit 0.
test('a source the base backup did not hold as it is now is dumped whole in a partial backup, and the chain restores it whole', async () => {
  const sandbox = await Sandbox.create();
  try {
    await sandbox.startServer();
    const log = join(sandbox.root, 'loads.log');
    const storage = join(sandbox.root, 'storage.conf');
    const commandSource = (name: string, data: string): string[] => [
      `source = ${name}`, 'kind = command', `dump = echo "${name} whole ${data}"`, `load = sh -c 'sed "s/^/load: /" >> ${log}'`,
      `dump_partial = echo "${name} changes ${data} {since}" | cut -d" " -f1-3`, `load_partial = sh -c 'sed "s/^/load_partial: /" >> ${log}'`,
    ];
    const config = await sandbox.writeNodeConfig('node1', [`storage_conf = ${storage}`]);
    const cli = (...args: string[]): Promise<CommandResult> => sandbox.runClient(['-c', config, ...args]);
    await writeFile(storage, [...commandSource('app', 'db1'), ''].join('\n'));
    exited(await cli('-e'), 0, '-e with app only');
    await writeFile(storage, [...commandSource('app', 'db1'), ...commandSource('added', 'db9'), ''].join('\n'));
    exited(await cli('-e', '--partial'), 0, '-e --partial with a source added');
    await writeFile(storage, [...commandSource('app', 'db2'), ...commandSource('added', 'db9'), ''].join('\n'));
    exited(await cli('-e', '--partial'), 0, '-e --partial with app pointed elsewhere');
    exited(await cli('-e', '--partial'), 0, '-e --partial, nothing changed');
    const listed = JSON.parse(exited(await cli('-l', '--json'), 0, '-l').stdout) as Listed[];
    assert.deepEqual(listed.map((backup) => backup.labels['dumps.partial_sources']), [undefined, 'app', 'added', 'app,added'],
      'a source is partial only on top of a backup that held the same one');
    assert.ok(!Object.values(listed[0].labels).some((value) => value.includes('db1')), 'identities hold no command text');

    exited(await cli('-i'), 0, '-i of the newest partial');
    assert.equal(await readFile(log, 'utf8'), [
      'load: app whole db1',
      'load: added whole db9', 'load_partial: app changes db1',
      'load_partial: added changes db9', 'load: app whole db2',
      'load_partial: added changes db9', 'load_partial: app changes db2', '',
    ].join('\n'), 'each backup of the chain in turn, its sources in path order');
  } finally {
    await sandbox.destroy();
  }
});

// Review: a failed load of one source stopped the whole chain after the other sources had loaded the
// step, so they were left at the complete backup's state: neither what was there nor what was asked for.
test('a source whose load fails gets none of its later dumps; the others are brought to the backup asked for', async () => {
  const sandbox = await Sandbox.create();
  try {
    await sandbox.startServer();
    const logOf = (source: string): string => join(sandbox.root, `${source}.log`);
    const storage = join(sandbox.root, 'storage.conf');
    const writeStorage = (alphaLoad: string): Promise<void> => writeFile(storage, ['alpha', 'beta'].flatMap((source) => [
      `source = ${source}`, 'kind = command',
      `dump = echo "${source} complete"`, `load = ${source === 'alpha' ? alphaLoad : `sh -c 'cat >> ${logOf(source)}'`}`,
      `dump_partial = echo "${source} partial since {since}"`, `load_partial = sh -c 'cat >> ${logOf(source)}'`,
    ]).join('\n') + '\n');
    await writeStorage(`sh -c 'cat >> ${logOf('alpha')}'`);
    const config = await sandbox.writeNodeConfig('node1', [`storage_conf = ${storage}`]);
    const cli = (...args: string[]): Promise<CommandResult> => sandbox.runClient(['-c', config, ...args]);
    exited(await cli('-e'), 0, '-e');
    exited(await cli('-e', '--partial'), 0, 'first -e --partial');
    exited(await cli('-e', '--partial'), 0, 'second -e --partial');
    const ids = (JSON.parse(exited(await cli('-l', '--json'), 0, '-l').stdout) as Listed[]).map((backup) => backup.id);

    await writeStorage(`sh -c 'echo "alpha refused" >&2; exit 5'`);
    const result = exited(await cli('-i'), 3, '-i with alpha failing to load');
    const beta = (await readFile(logOf('beta'), 'utf8')).split('\n').map((line) => line.replace(/ since .*/, ''));
    assert.deepEqual(beta, ['beta complete', 'beta partial', 'beta partial', ''], 'beta brought to the newest backup');
    await assert.rejects(readFile(logOf('alpha'), 'utf8'), { code: 'ENOENT' }, 'no partial of alpha loaded on its failed load');
    assert.match(result.stderr, /load of alpha failed.*\n?.*alpha refused/);
    assert.match(result.stderr, new RegExp(`alpha not loaded from backups 0*${ids[1]}, 0*${ids[2]}: its load from backup 0*${ids[0]} failed`));
    assert.doesNotMatch(result.stderr, /not applied after the failure above/);

    // The same when alpha's complete dump does not restore (a damaged chunk): beta is still brought forward.
    await writeStorage(`sh -c 'cat >> ${logOf('alpha')}'`);
    await rm(logOf('beta'));
    await rm(join(sandbox.root, 'work', 'node1', 'dumps', 'alpha', 'dump'), { force: true }); // kept by the failed load
    const [chunk] = chunksOfFile(sandbox, ids[0], join(sandbox.root, 'work', 'node1', 'dumps', 'alpha', 'dump'));
    await flipByte(packFile(sandbox, chunk.packName), chunk.offset + RECORD_HEADER_SIZE + 1);
    const damaged = exited(await cli('-i'), 3, '-i with alpha\'s complete dump damaged');
    const betaAgain = (await readFile(logOf('beta'), 'utf8')).split('\n').map((line) => line.replace(/ since .*/, ''));
    assert.deepEqual(betaAgain, ['beta complete', 'beta partial', 'beta partial', ''], 'beta brought to the newest backup');
    await assert.rejects(readFile(logOf('alpha'), 'utf8'), { code: 'ENOENT' }, 'no partial of alpha loaded on its lost complete dump');
    assert.match(damaged.stderr, new RegExp(`alpha not loaded from backups 0*${ids[0]}, 0*${ids[1]}, 0*${ids[2]}: its dump of backup 0*${ids[0]} did not restore`));
  } finally {
    await sandbox.destroy();
  }
});
