// Regression: a receiver named only some of the sender's sources. A backup whose dumps matched none
// was refused, but one where at least one matched loaded that one, skipped the others with an info
// line, exited 0 and recorded the backup as applied: a source renamed on prod (crm → crm2) went
// stale on the replica without a word. So did a source the receiver names that prod no longer dumps.
// Against the real server in this process; the sources are shell commands (no database needed).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runBackup } from '../src/client/uploader';
import { receiveIfNew } from '../src/client/receiver/receive-command';
import { loadStorageConfig } from '../src/client/sources/storage-config';
import { BackupKind } from '../src/proto/cpsbackup';
import type { NodeConfig } from '../src/common/config/node-config';
import { startInProcessServer } from './support/in-process-server';

type Storage = ReturnType<typeof loadStorageConfig>;
type Output = { code: number; out: string; err: string };

/** A server with client prod; storage.conf files of shell-command sources whose loads append to `loaded`. */
async function receiverHarness(t: TestContext): Promise<{
  harness: Awaited<ReturnType<typeof startInProcessServer>>; loaded: string; writeStorage(name: string, sources: readonly string[]): Promise<Storage>;
}> {
  const harness = await startInProcessServer(['prod']);
  t.after(() => harness.stop());
  const root = harness.sandbox.root;
  const loaded = join(root, 'loaded.log');
  const writeStorage = async (name: string, sources: readonly string[]): Promise<Storage> => {
    const file = join(root, `${name}.conf`);
    await writeFile(file, sources.flatMap((source) => [`source = ${source}`, 'kind = command', `dump = echo ${source}-data`, `load = cat >> ${loaded}`]).join('\n') + '\n');
    return loadStorageConfig(file);
  };
  return { harness, loaded, writeStorage };
}

/** `-i --if-new` as the CLI runs it: its exit code and what it printed. */
async function receive(config: NodeConfig, storage: Storage): Promise<Output> {
  let out = '';
  let err = '';
  const code = await receiveIfNew(config, undefined, storage, { out: (text) => { out += text; }, err: (text) => { err += text; } });
  return { code, out, err };
}

test('receive: a dump no source here names, or a named source the backup lacks, is exit 3 naming it, and said again while nothing is new', async (t) => {
  const { harness, loaded, writeStorage } = await receiverHarness(t);
  // prod dumps app and other (other: crm renamed, or a source added on prod).
  const prodStorage = await writeStorage('prod-storage', ['app', 'other']);
  const config = await harness.nodeConfig('prod', []);
  await runBackup(config, { kind: BackupKind.BACKUP_KIND_COMPLETE, storage: prodStorage });

  // The receiver names app only: app is loaded, other is named, exit 3.
  const onlyApp = await writeStorage('receiver-storage', ['app']);
  const first = await receive(config, onlyApp);
  assert.equal(first.code, 3, `${first.out}${first.err}`);
  assert.match(first.err, /warning: backup 1 of this node: \S+\/dumps\/other\/dump not loaded: no source other in \S+receiver-storage\.conf/);
  assert.match(first.out, /Received backup 1: 1 dumps loaded; backup 1 recorded as applied \(1 dumps or sources not loaded, see the warnings above\)/);
  assert.deepEqual((await readFile(loaded, 'utf8')).trim().split('\n'), ['app-data'], 'the loads that ran are applied');

  // Nothing new: not a quiet exit 0 while other is still missing here.
  const again = await receive(config, onlyApp);
  assert.equal(again.code, 3, `${again.out}${again.err}`);
  assert.match(again.err, /warning: this node's dumps of other are not loaded here since its last complete backup applied/);
  assert.match(again.out, /Nothing new: backup 1 \(complete, sources not loaded, see the warning above\) is already applied/);

  // The receiver names a source prod does not dump: that one stays as it was, exit 3 naming it.
  const withGone = await writeStorage('receiver-storage', ['app', 'other', 'gone']);
  const third = await receive(config, withGone);
  assert.equal(third.code, 3, `${third.out}${third.err}`);
  assert.match(third.err, /warning: backup 1 of this node holds no dump of source gone, which \S+receiver-storage\.conf names: it stays as it was/);
  // other, named now, was never loaded: the receive started again from the complete backup and loaded it.
  assert.match(third.err, /other: not loaded here since the last complete backup applied, received now: starting again from the complete backup/);
  assert.deepEqual((await readFile(loaded, 'utf8')).trim().split('\n').sort(), ['app-data', 'app-data', 'other-data']);

  // Every source named and dumped: exit 0, nothing said.
  const both = await writeStorage('receiver-storage', ['app', 'other']);
  await runBackup(config, { kind: BackupKind.BACKUP_KIND_COMPLETE, storage: prodStorage });
  const fine = await receive(config, both);
  assert.equal(fine.code, 0, `${fine.out}${fine.err}`);
  assert.doesNotMatch(fine.err, /warning/);
});

test('receive: a source in receive_ignore is skipped with an info line, exit 0, whichever side names it; a bad name there is refused naming its line', async (t) => {
  const { harness, loaded, writeStorage } = await receiverHarness(t);
  const prodConfig = await harness.nodeConfig('prod', []);
  const prodStorage = await writeStorage('prod-storage', ['app', 'analytics', 'other']);
  await runBackup(prodConfig, { kind: BackupKind.BACKUP_KIND_COMPLETE, storage: prodStorage });

  // A replica of app alone: analytics and other are left out on purpose. local is this node's own
  // database (its storage.conf names it for its own backups): prod never dumps it, and it is not missed.
  const config = await harness.nodeConfig('prod', ['receive_ignore = analytics, local', 'receive_ignore = other']);
  const receiverStorage = await writeStorage('receiver-storage', ['app', 'local']);
  const first = await receive(config, receiverStorage);
  assert.equal(first.code, 0, `${first.out}${first.err}`);
  assert.doesNotMatch(first.err, /warning/);
  assert.match(first.err, /backup 1: \S+\/dumps\/analytics\/dump skipped, its source is in receive_ignore/);
  assert.match(first.err, /backup 1: \S+\/dumps\/other\/dump skipped, its source is in receive_ignore/);
  assert.deepEqual((await readFile(loaded, 'utf8')).trim().split('\n'), ['app-data']);
  const again = await receive(config, receiverStorage);
  assert.equal(again.code, 0, `${again.out}${again.err}`);
  assert.match(again.out, /Nothing new: backup 1 \(complete\) is already applied/);

  // prod now has a source named local too: it is not loaded over this node's own.
  await runBackup(prodConfig, { kind: BackupKind.BACKUP_KIND_COMPLETE, storage: await writeStorage('prod-storage', ['app', 'local']) });
  const third = await receive(config, receiverStorage);
  assert.equal(third.code, 0, `${third.out}${third.err}`);
  assert.match(third.err, /backup 2: \S+\/dumps\/local\/dump skipped, its source is in receive_ignore/);
  assert.deepEqual((await readFile(loaded, 'utf8')).trim().split('\n'), ['app-data', 'app-data']);

  await assert.rejects(harness.nodeConfig('prod', ['receive_ignore = app, bad name']), (error: Error) => {
    assert.equal(error.name, 'ConfigError');
    assert.match(error.message, /prod\.conf:\d+: receive_ignore: "bad name" is not a source name/);
    return true;
  });
});

// Regression: a source skipped through receive_ignore was not remembered, so once it was taken out of
// the list and named in storage.conf the receive said "Nothing new" (or applied the next partials on a
// database that never had its base) instead of loading it from the complete backup.
test('receive: a source taken out of receive_ignore is loaded from the complete backup, not left without its base', async (t) => {
  const { harness, loaded, writeStorage } = await receiverHarness(t);
  const prodConfig = await harness.nodeConfig('prod', []);
  await runBackup(prodConfig, { kind: BackupKind.BACKUP_KIND_COMPLETE, storage: await writeStorage('prod-storage', ['app', 'analytics']) });

  const ignoring = await harness.nodeConfig('prod', ['receive_ignore = analytics']);
  const first = await receive(ignoring, await writeStorage('receiver-storage', ['app']));
  assert.equal(first.code, 0, `${first.out}${first.err}`);
  assert.deepEqual((await readFile(loaded, 'utf8')).trim().split('\n'), ['app-data']);

  const receiving = await harness.nodeConfig('prod', []);
  const second = await receive(receiving, await writeStorage('receiver-storage', ['app', 'analytics']));
  assert.equal(second.code, 0, `${second.out}${second.err}`);
  assert.match(second.err, /analytics: not loaded here since the last complete backup applied, received now: starting again from the complete backup/);
  assert.deepEqual((await readFile(loaded, 'utf8')).trim().split('\n').sort(), ['analytics-data', 'app-data', 'app-data']);
});

// Review: the receive state said which backup was applied, not where each source went. A source loaded
// elsewhere since (--load-into, an edited storage.conf) then got the next partials on a target that never
// had their base, exit 0. The state keeps each source's target now, and a changed one starts again from
// the complete backup.
test('receive: a source whose target here changed since the last receive starts again from the complete backup', async (t) => {
  const { harness } = await receiverHarness(t);
  const root = harness.sandbox.root;
  const storageFile = async (name: string, log: string): Promise<Storage> => {
    const file = join(root, `${name}.conf`);
    await writeFile(file, ['source = app', 'kind = command', 'dump = echo app-complete', 'dump_partial = echo app-partial {since}',
      `load = cat >> ${log}`, `load_partial = cat >> ${log}`, ''].join('\n'));
    return loadStorageConfig(file);
  };
  const lines = async (log: string): Promise<string[]> => (await readFile(log, 'utf8')).trim().split('\n').map((line) => line.replace(/ \S+$/, ''));
  const config = await harness.nodeConfig('prod', []);
  const prodStorage = await storageFile('prod-storage', join(root, 'prod.log'));
  await runBackup(config, { kind: BackupKind.BACKUP_KIND_COMPLETE, storage: prodStorage });
  const first = await receive(config, await storageFile('receiver-storage', join(root, 'first-target.log')));
  assert.equal(first.code, 0, `${first.out}${first.err}`);
  assert.deepEqual(await lines(join(root, 'first-target.log')), ['app-complete']);

  await runBackup(config, { kind: BackupKind.BACKUP_KIND_PARTIAL, storage: prodStorage, partialSince: new Date(Date.now() - 60_000) });
  const moved = await receive(config, await storageFile('receiver-storage', join(root, 'second-target.log')));
  assert.equal(moved.code, 0, `${moved.out}${moved.err}`);
  assert.match(moved.err, /app: loaded into another target here last time, so the partials to come have no base there: starting again from the complete backup/);
  assert.deepEqual(await lines(join(root, 'second-target.log')), ['app-complete', 'app-partial'], 'the partial stands on its base there');
});

// Review of the fix above: a source loaded once, then no longer dumped by prod and given another target here,
// counted as moved at every run and each run started again from the complete backup. And a state written
// before targets were recorded put partials on an unknown target: it starts again once.
test('receive: targets settle after a complete backup; a state without targets starts again from the complete backup once', async (t) => {
  const { harness } = await receiverHarness(t);
  const root = harness.sandbox.root;
  const storageFile = async (name: string, sources: readonly string[], log: (source: string) => string): Promise<Storage> => {
    const file = join(root, `${name}.conf`);
    await writeFile(file, sources.flatMap((source) => [`source = ${source}`, 'kind = command', `dump = echo ${source}-complete`,
      `dump_partial = echo ${source}-partial {since}`, `load = cat >> ${log(source)}`, `load_partial = cat >> ${log(source)}`]).join('\n') + '\n');
    return loadStorageConfig(file);
  };
  const config = await harness.nodeConfig('prod', ['receive_ignore = other']);
  const receiving = await harness.nodeConfig('prod', []);
  await runBackup(config, { kind: BackupKind.BACKUP_KIND_COMPLETE, storage: await storageFile('prod-both', ['app', 'other'], () => join(root, 'prod.log')) });
  assert.equal((await receive(receiving, await storageFile('receiver-1', ['app', 'other'], (source) => join(root, `${source}-1.log`)))).code, 0);
  // prod stops dumping other; here other gets another target; a complete backup then a partial.
  const prodApp = await storageFile('prod-app', ['app'], () => join(root, 'prod.log'));
  await runBackup(config, { kind: BackupKind.BACKUP_KIND_COMPLETE, storage: prodApp });
  const moved = await storageFile('receiver-2', ['app', 'other'], (source) => join(root, `${source}-2.log`));
  await receive(receiving, moved);
  await runBackup(config, { kind: BackupKind.BACKUP_KIND_PARTIAL, storage: prodApp, partialSince: new Date(Date.now() - 60_000) });
  const settled = await receive(receiving, moved);
  assert.doesNotMatch(settled.err, /starting again from the complete backup/, `${settled.out}${settled.err}`);

  // A state as an older cpsbackup wrote it: no targets.
  const stateFile = join(receiving.stateDirectory, 'receive', '.own.json');
  const state = JSON.parse(await readFile(stateFile, 'utf8')) as Record<string, unknown>;
  delete state.loadedInto;
  await writeFile(stateFile, JSON.stringify(state));
  await runBackup(config, { kind: BackupKind.BACKUP_KIND_PARTIAL, storage: prodApp, partialSince: new Date(Date.now() - 60_000) });
  const older = await receive(receiving, moved);
  assert.match(older.err, /does not say where each source was loaded \(written by an older cpsbackup\): starting again from the complete backup once/);
  await runBackup(config, { kind: BackupKind.BACKUP_KIND_PARTIAL, storage: prodApp, partialSince: new Date(Date.now() - 60_000) });
  const after = await receive(receiving, moved);
  assert.doesNotMatch(after.err, /starting again from the complete backup/, `${after.out}${after.err}`);
});
