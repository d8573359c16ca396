// Regression (red-team review): check --repair took a partial backup's damaged dump out of it, leaving its
// labels (dumps.source.kv) and marking it incomplete; `-i --load` of a later partial then loaded the complete
// backup and that later partial without the lost link, exit 0: a state that never existed. A receiver
// warned that the backup "holds no dump of source kv", loaded the rest and recorded the run as applied.
// Now a link whose labels say it dumped a source but whose dump of it is gone is a lost link for that
// source, as a link that did not restore: -i says so and exits 3, the other sources are brought forward;
// the receiver refuses to record the run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox, type CommandResult } from './support/sandbox';
import { chunksOfFile, flipByte, packFile, runCheck } from './support/fault-tools';
import { RECORD_HEADER_SIZE } from '../src/chunkstore/pack/pack-format';

interface Listed {
  id: number;
  kind: string;
}

function exited(result: CommandResult, code: number, what: string): CommandResult {
  assert.equal(result.code, code, `${what} exited ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

/** Two command sources whose loads append to <root>/<prefix>-<source>.log, each dump unique (its `since`, the generation). */
function storageLines(root: string, prefix: string): string[] {
  return ['kv', 'other'].flatMap((source) => [
    `source = ${source}`, 'kind = command',
    `dump = echo "${source} complete $(cat ${join(root, 'generation')})"`, `load = sh -c 'cat >> ${join(root, `${prefix}-${source}.log`)}'`,
    `dump_partial = echo "${source} partial since {since}"`, `load_partial = sh -c 'cat >> ${join(root, `${prefix}-${source}.log`)}'`,
  ]);
}

/** What each load of the source appended to its log under root since the last call, `since …` cut off. */
async function loadedSince(root: string, prefix: string, source: string): Promise<string[]> {
  const file = join(root, `${prefix}-${source}.log`);
  const text = await readFile(file, 'utf8').catch(() => '');
  await rm(file, { force: true });
  return text.split('\n').filter((line) => line !== '').map((line) => line.replace(/ since .*/, ''));
}

/** node1 and a replica receiving its backups, the server running, the sources' generation at 1. */
async function chainSandbox(t: { after(fn: () => Promise<void>): void }): Promise<Sandbox> {
  const sandbox = await Sandbox.create({ clients: ['node1'] });
  await sandbox.addClient('replica', ['restore_client = node1']);
  t.after(() => sandbox.destroy());
  await sandbox.startServer();
  await writeFile(join(sandbox.root, 'generation'), '1\n');
  return sandbox;
}

test('a chain link whose dump check --repair took out is a lost link: -i --load and the receiver stop that source and exit 3', async (t) => {
  const sandbox = await chainSandbox(t);
  const root = sandbox.root;
  const storage = join(root, 'storage.conf');
  await writeFile(storage, [...storageLines(root, 'node1'), ''].join('\n'));
  const replicaStorage = join(root, 'replica-storage.conf');
  await writeFile(replicaStorage, [...storageLines(root, 'replica'), ''].join('\n'));
  const writeConfigs = async (): Promise<{ node1: string; replica: string }> => ({
    node1: await sandbox.writeNodeConfig('node1', [`storage_conf = ${storage}`]),
    replica: await sandbox.writeNodeConfig('replica', [`storage_conf = ${replicaStorage}`]),
  });
  let configs = await writeConfigs();
  const cli = (...args: string[]): Promise<CommandResult> => sandbox.runClient(['-c', configs.node1, ...args]);
  const receive = (): Promise<CommandResult> => sandbox.runClient(['-c', configs.replica, '-i', '--client', 'node1', '--if-new']);
  const loaded = (prefix: string, source: string): Promise<string[]> => loadedSince(root, prefix, source);
  const dumpOf = (source: string): string => join(root, 'work', 'node1', 'dumps', source, 'dump');
  /** Damages the dump of `source` in backup `id`, finds it with check --read-data, removes it with --repair. */
  const repairAway = async (id: number, source: string): Promise<void> => {
    await sandbox.runningServer!.stop();
    const [chunk] = chunksOfFile(sandbox, id, dumpOf(source));
    await flipByte(packFile(sandbox, chunk.packName), chunk.offset + RECORD_HEADER_SIZE + 1);
    exited(await runCheck(sandbox, ['--read-data']), 1, 'check --read-data');
    const repaired = exited(await runCheck(sandbox, ['--read-data', '--repair']), 3, 'check --read-data --repair');
    assert.match(repaired.stdout, new RegExp(`^removed: client node1 backup 0*${id} ${dumpOf(source)} \\(its content is lost\\)$`, 'm'));
    await sandbox.startServer();
    configs = await writeConfigs();
  };

  exited(await cli('-e'), 0, '-e');
  await writeFile(join(root, 'generation'), '2\n');
  exited(await cli('-e', '--partial'), 0, 'first -e --partial');
  exited(await cli('-e', '--partial'), 0, 'second -e --partial');
  const ids = (JSON.parse(exited(await cli('-l', '--json'), 0, '-l').stdout) as Listed[]).map((backup) => backup.id);
  assert.equal(ids.length, 3);
  await repairAway(ids[1], 'kv');

  // Its labels still say what it was made with (the loss shows against them); the listing says it is incomplete.
  await t.test('-l still says what the backup dumped, and that it is incomplete', async () => {
    assert.match(exited(await cli('-l'), 0, '-l').stdout,
      new RegExp(`^Backup: 0*${ids[1]} \\S+ \\S+ partial \\(dumps: kv, other, incomplete: 1 unreadable file\\)$`, 'm'));
  });

  await t.test('-i --to --load of the newest partial: kv stays at the complete backup, other is brought forward, exit 3', async () => {
    const result = exited(await cli('-i', '--to', join(root, 'restored'), '--load'), 3, '-i --load over the lost link');
    assert.match(result.stderr, new RegExp(`error: kv not loaded from backups 0*${ids[1]}, 0*${ids[2]}: backup 0*${ids[1]} says it dumped kv, `
      + 'but its dump is gone from the backup, whole or in part \\(removed by check --repair: the backup is incomplete\\) \\(the other sources were brought'));
    assert.deepEqual(await loaded('node1', 'kv'), ['kv complete 1'], 'no partial of kv loaded over its lost link');
    assert.deepEqual(await loaded('node1', 'other'), ['other complete 1', 'other partial', 'other partial']);
  });

  await t.test('-i of the lost link itself (the chosen backup, in place): kv is not loaded from it, exit 3', async () => {
    const result = exited(await cli('-i', String(ids[1])), 3, '-i of the repaired partial');
    assert.match(result.stderr, new RegExp(`error: kv not loaded from backups 0*${ids[1]}: backup 0*${ids[1]} says it dumped kv, but its dump is gone from the backup`));
    assert.deepEqual(await loaded('node1', 'kv'), ['kv complete 1']);
    assert.deepEqual(await loaded('node1', 'other'), ['other complete 1', 'other partial']);
  });

  // Regression (review): with --include selecting the source's dumps, the lost link was not seen (the selection was judged only
  // against the dumps still present in the earlier links, and the chosen backup's were not listed): kv's partial loaded, exit 0.
  for (const selection of [['--include', join(root, 'work', 'node1', 'dumps', 'kv')], ['--include', dumpOf('kv')], ['-r', '/dumps/kv/']]) {
    await t.test(`-i --load ${selection[0]} ${selection[1]}: kv stays at the complete backup, exit 3`, async () => {
      const result = exited(await cli('-i', '--to', join(root, `restored-${selection[0]}`), '--load', ...selection), 3, `-i --load ${selection.join(' ')}`);
      assert.match(result.stderr, new RegExp(`error: kv not loaded from backups 0*${ids[1]}, 0*${ids[2]}: backup 0*${ids[1]} says it dumped kv`));
      assert.deepEqual(await loaded('node1', 'kv'), ['kv complete 1'], 'no partial of kv loaded over its lost link');
      assert.deepEqual(await loaded('node1', 'other'), [], 'other is not selected');
    });
  }

  await t.test('the receiver loads nothing, records nothing, exits 3 naming kv and the backup; again on the next run', async () => {
    for (const run of ['first', 'second']) {
      const result = exited(await receive(), 3, `${run} receive over the lost link`);
      assert.match(result.stderr, new RegExp(`load kv: partial backup ${ids[1]} says it dumped kv, but its dump is gone from the backup.*nothing recorded`));
      assert.doesNotMatch(result.stdout, /recorded as applied|Nothing new/);
      // The whole plan is judged before anything loads (found by review: every run loaded the complete backup again).
      assert.deepEqual(await loaded('replica', 'kv'), [], `${run} receive`);
      assert.deepEqual(await loaded('replica', 'other'), [], `${run} receive`);
    }
  });

  await t.test('a dump repaired out of the chain\'s complete backup stops that source from the complete backup on', async () => {
    await repairAway(ids[0], 'other');
    const result = exited(await cli('-i', '--to', join(root, 'restored-again'), '--load'), 3, '-i --load over two lost links');
    assert.match(result.stderr, new RegExp(`error: other not loaded from backups 0*${ids[0]}, 0*${ids[1]}, 0*${ids[2]}: backup 0*${ids[0]} says it dumped other`));
    assert.match(result.stderr, new RegExp(`error: kv not loaded from backups 0*${ids[1]}, 0*${ids[2]}: `));
    assert.deepEqual(await loaded('node1', 'other'), []);
    assert.deepEqual(await loaded('node1', 'kv'), ['kv complete 1']);
    const received = exited(await receive(), 3, 'receive over the lost complete link');
    assert.match(received.stderr, new RegExp(`load other, kv: complete backup ${ids[0]} says it dumped other, but its dump is gone from the backup.*; `
      + `partial backup ${ids[1]} says it dumped kv, but`));
    assert.deepEqual([await loaded('replica', 'kv'), await loaded('replica', 'other')], [[], []], 'nothing of the complete backup loaded');
  });

  // Regression (review): a source whose dumps are gone from every earlier link never counted as selected, so --include or -r
  // choosing its dumps loaded the chosen partial's over the lost link: `other partial` alone, exit 0.
  for (const selection of [['--include', join(root, 'work', 'node1', 'dumps', 'other')], ['-r', '/dumps/other/']]) {
    await t.test(`-i ${ids[1]} --load ${selection[0]} …/other, other's complete dump gone: other is not loaded, exit 3`, async () => {
      const result = exited(await cli('-i', String(ids[1]), '--to', join(root, `restored-other${selection[0]}`), '--load', ...selection), 3,
        `-i --load ${selection.join(' ')}`);
      assert.match(result.stderr, new RegExp(`error: other not loaded from backups 0*${ids[0]}, 0*${ids[1]}: backup 0*${ids[0]} says it dumped other`));
      assert.deepEqual([await loaded('node1', 'other'), await loaded('node1', 'kv')], [[], []]);
    });
  }

  await t.test('a complete backup made after the repair starts the chain again: exit 0', async () => {
    await writeFile(join(root, 'generation'), '3\n');
    exited(await cli('-e'), 0, '-e after the repair');
    exited(await cli('-e', '--partial'), 0, '-e --partial after the repair');
    exited(await cli('-i', '--to', join(root, 'restored-fresh'), '--load'), 0, '-i --load of the new chain');
    assert.deepEqual(await loaded('node1', 'kv'), ['kv complete 3', 'kv partial']);
    const received = exited(await receive(), 0, 'receive of the new chain');
    assert.match(received.stdout, /recorded as applied/);
    assert.deepEqual(await loaded('replica', 'kv'), ['kv complete 3', 'kv partial']);
  });
});

// Regression (review): a lost link stopped its source for the rest of the chain, though a later partial backup dumped it
// whole (no dump_partial): -i --load exited 3 and did not load that complete dump, which gives exactly the state asked
// for, and the receiver refused every run. A lost link now stops its source only until a link that dumps it whole.
test('a source dumped whole by a later partial backup loads from there after its lost link: -i --load and the receiver', async (t) => {
  const sandbox = await chainSandbox(t);
  const root = sandbox.root;
  // `other` has no dump_partial: every partial backup dumps it whole (dumps.partial_sources: kv).
  const lines = (prefix: string): string[] => storageLines(root, prefix).slice(0, -2); // other's dump_partial and load_partial left out
  const storage = join(root, 'storage.conf');
  await writeFile(storage, [...lines('node1'), ''].join('\n'));
  const replicaStorage = join(root, 'replica-storage.conf');
  await writeFile(replicaStorage, [...lines('replica'), ''].join('\n'));
  const writeConfigs = async (): Promise<{ node1: string; replica: string }> => ({
    node1: await sandbox.writeNodeConfig('node1', [`storage_conf = ${storage}`]),
    replica: await sandbox.writeNodeConfig('replica', [`storage_conf = ${replicaStorage}`]),
  });
  let configs = await writeConfigs();
  const cli = (...args: string[]): Promise<CommandResult> => sandbox.runClient(['-c', configs.node1, ...args]);
  const loaded = (prefix: string, source: string): Promise<string[]> => loadedSince(root, prefix, source);
  const dumpOf = (source: string): string => join(root, 'work', 'node1', 'dumps', source, 'dump');

  exited(await cli('-e'), 0, '-e');
  await writeFile(join(root, 'generation'), '2\n');
  exited(await cli('-e', '--partial'), 0, 'first -e --partial');
  await writeFile(join(root, 'generation'), '3\n');
  exited(await cli('-e', '--partial'), 0, 'second -e --partial');
  const ids = (JSON.parse(exited(await cli('-l', '--json'), 0, '-l').stdout) as Listed[]).map((backup) => backup.id);
  await sandbox.runningServer!.stop();
  const [chunk] = chunksOfFile(sandbox, ids[1], dumpOf('other'));
  await flipByte(packFile(sandbox, chunk.packName), chunk.offset + RECORD_HEADER_SIZE + 1);
  exited(await runCheck(sandbox, ['--read-data', '--repair']), 3, 'check --read-data --repair');
  await sandbox.startServer();
  configs = await writeConfigs();

  // Exit 3 all the same: a backup of the chain is incomplete (warned of), but nothing is left unloaded.
  const result = exited(await cli('-i', '--to', join(root, 'restored'), '--load'), 3, '-i --load over a lost link mended by a whole dump');
  assert.doesNotMatch(result.stderr, /not loaded/);
  assert.deepEqual(await loaded('node1', 'other'), ['other complete 1', 'other complete 3'], 'other loaded from the whole dump of the chosen backup');
  assert.deepEqual(await loaded('node1', 'kv'), ['kv complete 1', 'kv partial', 'kv partial']);

  const received = await sandbox.runClient(['-c', configs.replica, '-i', '--client', 'node1', '--if-new']);
  assert.match(received.stdout, /recorded as applied/, `stdout: ${received.stdout}\nstderr: ${received.stderr}`);
  assert.deepEqual(await loaded('replica', 'other'), ['other complete 1', 'other complete 3']);
  assert.deepEqual(await loaded('replica', 'kv'), ['kv complete 1', 'kv partial', 'kv partial']);
});
