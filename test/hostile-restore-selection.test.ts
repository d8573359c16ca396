// Regression (security review, finding 4): the restoring client trusted the server's choice of entries. It only
// recorded which --include paths had matched, and wrote every entry it was sent: during an in-place root restore
// of --include /srv/app, a broken or hostile server could add /etc/cron.d/x. Now an entry the restore did not ask
// for (beside, above or far outside the include, past -r, a folder above nothing asked for, a hard link to an entry
// never sent) ends the restore, named, before it is written. The real client (runRestore) against a server that
// answers with a hand-written stream; --to a folder, as the check is the same in place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstat, mkdtemp, readFile, readdir, realpath } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackupSummary, EntryType, type EntryMeta, type RestoreRequest, type RestoreResponse } from '../src/proto/cpsbackup';
import { batchedEntry } from '../src/common/wire/batched-entry';
import { ProtocolError } from '../src/common/errors';
import { runRestore, type RestoreOptions } from '../src/client/restorer';
import { meta } from './support/hostile-client';
import { startHostileServer } from './support/hostile-server';
import { removeTree } from './support/remove-tree';

const OPTIONS = { timeout: 60_000 };
const { ENTRY_TYPE_DIRECTORY: FOLDER, ENTRY_TYPE_FILE: FILE } = EntryType;
const header: RestoreResponse = { message: { $case: 'backup', value: BackupSummary.fromPartial({ backupId: 1 }) } };

function folder(path: string): EntryMeta {
  return meta(path, FOLDER, { uid: process.getuid!(), gid: process.getgid!() });
}

function file(path: string, extra: Partial<EntryMeta> = {}): EntryMeta {
  return meta(path, FILE, { uid: process.getuid!(), gid: process.getgid!(), size: Buffer.byteLength(contentOf(path)), ...extra });
}

function contentOf(path: string): string {
  return `content of ${path}\n`;
}

/** One batch per entry: a file with its content inline, anything else alone. */
function sent(entries: readonly EntryMeta[]): RestoreResponse[] {
  return [header, ...entries.map((entry): RestoreResponse => {
    const hasContent = entry.type === FILE && entry.hardlinkTarget.length === 0;
    const content = Buffer.from(hasContent ? contentOf(entry.path.toString()) : '');
    const fields = hasContent ? { content, sha256: createHash('sha256').update(content).digest() } : {};
    return { message: { $case: 'batch', value: { entries: [batchedEntry(entry, fields)] } } };
  })];
}

/** What an honest server sends for --include /srv/app: the folders above it, then it and what lies below. */
const HONEST = [folder('/srv'), folder('/srv/app'), file('/srv/app/a'), file('/srv/app/linked', { nlink: 2 }),
  file('/srv/app/link', { nlink: 2, hardlinkTarget: Buffer.from('/srv/app/linked') })];

async function restoring(t: { after(fn: () => Promise<void>): void }, answer: readonly RestoreResponse[],
  options: Omit<RestoreOptions, 'backupId'>): Promise<{ target: string; requests: RestoreRequest[]; outcome: Promise<unknown> }> {
  const server = await startHostileServer(() => answer);
  t.after(() => server.stop());
  const target = await realpath(await mkdtemp(join(tmpdir(), 'cpsbackup-hostile-restore-')));
  t.after(async () => removeTree(target));
  const config = await server.nodeConfig('node1');
  const outcome = runRestore(config, { backupId: 1, to: target, ...options });
  outcome.catch(() => undefined);
  return { target, requests: server.requests, outcome };
}

async function refused(outcome: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(outcome, (error: unknown) => {
    assert.ok(error instanceof ProtocolError, String(error));
    assert.match(error.message, message);
    return true;
  });
}

/** Every path below target, relative to it. */
async function treeOf(target: string): Promise<string[]> {
  return (await readdir(target, { recursive: true })).sort();
}

test('an honest stream for --include /srv/app is restored, hard link and folders above included', OPTIONS, async (t) => {
  const { target, requests, outcome } = await restoring(t, sent(HONEST), { paths: ['/srv/app'] });
  await outcome;
  assert.deepEqual(requests.map((request) => request.paths.map(String)), [['/srv/app']]);
  assert.deepEqual(await treeOf(target), ['srv', 'srv/app', 'srv/app/a', 'srv/app/link', 'srv/app/linked']);
  assert.equal(await readFile(join(target, 'srv/app/link'), 'utf8'), contentOf('/srv/app/linked'));
});

for (const { what, extra, named } of [
  { what: 'a file beside the include (/srv/appx)', extra: [file('/srv/appx')], named: '/srv/appx' },
  { what: 'a file where a folder above the include is (/srv)', extra: [file('/srv')], named: '/srv' },
  { what: 'a file far outside (/etc/x)', extra: [folder('/etc'), file('/etc/x')], named: '/etc/x' },
  { what: 'a file below the include\'s name in another folder (/etc/srv/app/x)', extra: [file('/etc/srv/app/x')], named: '/etc/srv/app/x' },
]) {
  test(`${what} ends the restore before it is written, named`, OPTIONS, async (t) => {
    // First, at the end, and between the entries asked for.
    for (const order of [[...extra, ...HONEST], [...HONEST, ...extra], [HONEST[0], HONEST[1], HONEST[2], ...extra, ...HONEST.slice(3)]]) {
      const { target, outcome } = await restoring(t, sent(order), { paths: ['/srv/app'] });
      await refused(outcome, new RegExp(`the server sent ${named}, which this restore did not ask for \\(not at or below --include /srv/app\\): nothing more restored`));
      // /srv is there all the same: the folder, made for /srv/app.
      const written = await lstat(join(target, named)).catch(() => undefined);
      assert.ok(written === undefined || written.isDirectory(), `${named} written`);
      assert.ok(!(await treeOf(target)).includes('etc'));
    }
  });
}

test('a folder sent without anything asked for below it is refused and not made', OPTIONS, async (t) => {
  for (const order of [[...HONEST, folder('/etc')], [folder('/etc'), ...HONEST], [folder('/srv'), folder('/srv/other'), ...HONEST.slice(1)]]) {
    const { target, outcome } = await restoring(t, sent(order), { paths: ['/srv/app'] });
    await refused(outcome, /the server sent the folder \/(etc|srv\/other), which this restore did not ask for, without anything asked for below it/);
    const tree = await treeOf(target);
    assert.ok(!tree.includes('etc') && !tree.includes('srv/other'), tree.join(' '));
  }
});

test('a hard link to an entry this restore was never sent is refused, in an --include restore or a whole one', OPTIONS, async (t) => {
  const link = file('/srv/app/shadow', { nlink: 2, hardlinkTarget: Buffer.from('/etc/shadow') });
  for (const options of [{ paths: ['/srv/app'] }, {}]) {
    const { target, outcome } = await restoring(t, sent([...HONEST, link]), options);
    await refused(outcome, /the server sent \/srv\/app\/shadow as a hard link to \/etc\/shadow, which is no earlier entry of this restore/);
    assert.ok(!(await treeOf(target)).includes('srv/app/shadow'));
  }
});

test('-r: an entry that does not match is refused; folders above a match come with it', OPTIONS, async (t) => {
  const honest = [folder('/srv'), folder('/srv/app'), file('/srv/app/a')];
  const ok = await restoring(t, sent(honest), { pathRegex: 'app/a$' });
  await ok.outcome;
  assert.deepEqual(await treeOf(ok.target), ['srv', 'srv/app', 'srv/app/a']);
  for (const extra of [file('/srv/app/b'), file('/etc/x')]) {
    const { target, outcome } = await restoring(t, sent([...honest, extra]), { pathRegex: 'app/a$' });
    await refused(outcome, new RegExp(`the server sent ${extra.path.toString()}, which this restore did not ask for \\(not matching -r "app/a\\$"\\)`));
    assert.deepEqual(await treeOf(target), ['srv', 'srv/app', 'srv/app/a']);
  }
  // With --include as well: both must hold.
  const { outcome } = await restoring(t, sent([folder('/srv'), file('/srv/a')]), { paths: ['/srv/app'], pathRegex: '/a$' });
  await refused(outcome, /the server sent \/srv\/a, which this restore did not ask for \(not at or below --include \/srv\/app or not matching -r "\/a\$"\)/);
});

test('a whole restore takes whatever the backup holds', OPTIONS, async (t) => {
  const { target, outcome } = await restoring(t, sent([folder('/etc'), file('/etc/x'), ...HONEST]), {});
  await outcome;
  assert.deepEqual(await treeOf(target), ['etc', 'etc/x', 'srv', 'srv/app', 'srv/app/a', 'srv/app/link', 'srv/app/linked']);
});
