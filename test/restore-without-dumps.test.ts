// Regression: a restore could only leave the dumps out by naming every other path (receive_files named
// every sibling along each dump's folder chain, past the server's cap of 100,000 paths). A Restore with
// skip_fifo_content now leaves out every dump, wherever it lies, and the folders that hold one unless
// something else below them is sent; the server says so before its first entry. A FIFO read with
// read_all_fifos shares the dumps' entry type but is a file (common/dump-entry.ts): it comes back. Without
// the flag (-i), dumps come back as files, as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackupClient, EntryType, type RestoreRequest, type RestoreResponse, type UploadRequest } from '../src/proto/cpsbackup';
import { channelOptions, clientCredentials } from '../src/common/tls/credentials';
import { LimitError } from '../src/common/errors';
import { runRestore } from '../src/client/restorer';
import { foldersHoldingDumps, MAX_DUMP_FOLDERS } from '../src/server/dump-folders';
import { begin, commit, entryMessage, meta, sendUpload } from './support/hostile-client';
import { startInProcessServer } from './support/in-process-server';

const OPTIONS = { timeout: 120_000 };
const { ENTRY_TYPE_DIRECTORY: FOLDER, ENTRY_TYPE_FILE: FILE, ENTRY_TYPE_FIFO_CONTENT: DUMP, ENTRY_TYPE_FIFO: FIFO } = EntryType;
const ODD = '/inc/\xff\n'; // a name that is not UTF-8, with a line feed
/** A FIFO the walk read with read_all_fifos: FIFO-content, with the inode and ctime a dump never has. */
const READ_FIFO = -1;
/** What a dump's entry carries where a walked one has its inode, device and ctime (common/dump-entry.ts). */
const DUMP_MARKS = { inode: 0, device: 0, ctimeSec: 0, ctimeNsec: 0 };

/** Path (latin1) and type of each entry: a dump at every depth, and names that merely start like one. */
const BACKUP: readonly (readonly [string, number])[] = [
  ['/inc', FOLDER],
  ['/inc/a.txt', FILE],
  ['/inc/deep', FOLDER], ['/inc/deep/1', FOLDER], ['/inc/deep/1/2', FOLDER], ['/inc/deep/1/2/3', FOLDER],
  ['/inc/deep/1/2/3/4', FOLDER], ['/inc/deep/1/2/3/4/dump', DUMP], ['/inc/deep/1/2/keep.txt', FILE],
  // In byte order between "/inc/deep" and what lies below it: "/inc/deep" must still come back above keep.txt.
  ['/inc/deep-x', FOLDER], ['/inc/deep-x/y', FILE],
  ['/inc/dump', DUMP], // at the root of the include
  ['/inc/dump-old', FOLDER], ['/inc/dump-old/x', FILE], ['/inc/dump.sql', FILE],
  ['/inc/empty', FOLDER],
  ['/inc/fifo', FIFO], // a FIFO recorded as such (no content) is no dump
  ['/inc/many', FOLDER], ['/inc/many/d1', DUMP], ['/inc/many/d2', DUMP], ['/inc/many/d3', DUMP], ['/inc/many/f.txt', FILE],
  ['/inc/only', FOLDER], ['/inc/only/dump', DUMP], // a folder holding only a dump
  ['/inc/piped', FOLDER], ['/inc/piped/fifo', READ_FIFO], // a folder holding only a read FIFO: both come back
  [ODD, FOLDER], [`${ODD}/dump`, DUMP], [`${ODD}/k`, FILE],
];

/** In the order sent: a folder held back (it holds a dump) comes with the first entry below it. */
const WITHOUT_DUMPS = ['/inc', '/inc/a.txt', '/inc/deep-x', '/inc/deep-x/y', '/inc/deep', '/inc/deep/1', '/inc/deep/1/2', '/inc/deep/1/2/keep.txt',
  '/inc/dump-old', '/inc/dump-old/x', '/inc/dump.sql', '/inc/empty', '/inc/fifo', '/inc/many', '/inc/many/f.txt', '/inc/piped', '/inc/piped/fifo',
  ODD, `${ODD}/k`];

/** BACKUP in byte order, as the catalog reads it back. */
const IN_PATH_ORDER = [...BACKUP].sort(([a], [b]) => Buffer.compare(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1')));

function uploadMessages(): UploadRequest[] {
  return [begin, ...IN_PATH_ORDER.flatMap(([path, type]): UploadRequest[] => {
    const name = Buffer.from(path, 'latin1');
    if (type !== FILE && type !== DUMP && type !== READ_FIFO) return [entryMessage(meta(name, type))];
    const content = Buffer.from(`content of ${path}\n`, 'latin1');
    const marks = type === DUMP ? DUMP_MARKS : {};
    return [
      entryMessage(meta(name, type === READ_FIFO ? EntryType.ENTRY_TYPE_FIFO_CONTENT : type, { size: content.length, ...marks })),
      { message: { $case: 'data', value: { chunk: content } } },
      { message: { $case: 'entryEnd', value: { sha256: createHash('sha256').update(content).digest(), size: content.length, damage: '' } } },
    ];
  }), commit];
}

/** The message cases and the entry paths (latin1) a Restore sends, in order. */
async function restored(client: BackupClient, request: Partial<RestoreRequest>): Promise<{ cases: string[]; paths: string[] }> {
  const cases: string[] = [];
  const paths: string[] = [];
  const call = client.restore({
    backupId: 0, clientName: '', paths: [], acceptsBatches: true, pathRegex: '', protocolVersion: 2, skipFifoContent: false, strip: 0, ...request,
  });
  for await (const response of call as AsyncIterable<RestoreResponse>) {
    const message = response.message!;
    cases.push(message.$case);
    if (message.$case === 'entry') paths.push(message.value.path.toString('latin1'));
    if (message.$case === 'batch') paths.push(...message.value.entries.map((item) => item.meta!.path.toString('latin1')));
  }
  return { cases, paths };
}

/** Every path below root, as "/" + its bytes read as latin1: names that are not UTF-8 stay what they are. */
async function pathsUnder(root: Buffer, below = ''): Promise<string[]> {
  const paths: string[] = [];
  for (const entry of await readdir(Buffer.concat([root, Buffer.from(below, 'latin1')]), { encoding: 'buffer', withFileTypes: true })) {
    const path = `${below}/${entry.name.toString('latin1')}`;
    paths.push(path);
    if (entry.isDirectory()) paths.push(...await pathsUnder(root, path));
  }
  return paths;
}

test('skip_fifo_content leaves out every dump at every depth, and the folders holding only dumps; -i still restores them', OPTIONS, async (t) => {
  const harness = await startInProcessServer(['node1']);
  t.after(() => harness.stop());
  const config = await harness.nodeConfig('node1', []);
  const client = new BackupClient(`${config.server}:${config.port}`, clientCredentials(config), channelOptions(config));
  t.after(() => client.close());
  const outcome = await sendUpload(client, uploadMessages());
  assert.equal(outcome.error, undefined, outcome.error?.details);

  await t.test('the server sends every entry but the dumps, and says so before the first', async () => {
    const { cases, paths } = await restored(client, { skipFifoContent: true });
    assert.deepEqual(cases.slice(0, 2), ['backup', 'skippingFifoContent']);
    assert.deepEqual(paths, WITHOUT_DUMPS);
  });

  await t.test('on top of named paths: only what they name, still without the dumps', async () => {
    const { paths } = await restored(client, { skipFifoContent: true, paths: [Buffer.from('/inc/many'), Buffer.from('/inc/only')] });
    assert.deepEqual(paths, ['/inc', '/inc/many', '/inc/many/f.txt']);
  });

  await t.test('without it nothing changes: every entry, dumps included, and no such message', async () => {
    const { cases, paths } = await restored(client, {});
    assert.ok(!cases.includes('skippingFifoContent'));
    assert.deepEqual(paths, IN_PATH_ORDER.map(([path]) => path));
  });

  await t.test('the client writes the files and no dump; an ordinary restore writes the dumps as files', async () => {
    const target = await mkdtemp(join(tmpdir(), 'cpsbackup-without-dumps-'));
    t.after(() => rm(target, { recursive: true, force: true }));
    const withoutDumps = await runRestore(config, { backupId: 0, to: join(target, 'files'), skipFifoContent: true });
    assert.deepEqual(withoutDumps.failures, []);
    assert.equal(withoutDumps.dumpFiles.length, 0);
    assert.deepEqual((await pathsUnder(Buffer.from(join(target, 'files')))).sort(), [...WITHOUT_DUMPS].sort());
    const everything = await runRestore(config, { backupId: 0, to: join(target, 'all') });
    assert.deepEqual((await pathsUnder(Buffer.from(join(target, 'all')))).sort(), IN_PATH_ORDER.map(([path]) => path).sort());
    // Outside this node's <work_directory>/dumps these are no dumps to load (hostile-restore-dumps.test.ts): files, each said so.
    assert.equal(everything.dumpFiles.length, 0);
    assert.equal(everything.failures.length, BACKUP.filter(([, type]) => type === DUMP).length, everything.failures.join('\n'));
    for (const line of everything.failures) assert.match(line, /: marked as a dump, but not in .*: restored as an ordinary file \(the overwrite policy applies\), not loaded$/);
  });
});

test('a backup with dumps in more folders than a restore keeps in memory is refused, naming it', OPTIONS, async () => {
  function* entries(): Generator<{ path: Buffer; type: number } & typeof DUMP_MARKS> {
    for (let index = 0; index <= MAX_DUMP_FOLDERS; index++) yield { path: Buffer.from(`/d/${index}/dump`), type: DUMP, ...DUMP_MARKS };
  }
  await assert.rejects(foldersHoldingDumps(entries(), 'backup 3 of client "node1"'),
    (error) => error instanceof LimitError && /backup 3 of client "node1" holds dumps in more than 250000 folders/.test(error.message));
  const few = await foldersHoldingDumps([{ path: Buffer.from('/a/b/dump'), type: DUMP, ...DUMP_MARKS }, { path: Buffer.from('/a/c'), type: FILE, ...DUMP_MARKS },
    meta('/e/read-fifo', EntryType.ENTRY_TYPE_FIFO_CONTENT)], 'backup 1');
  assert.deepEqual([...few].sort(), ['/', '/a', '/a/b']);
});
