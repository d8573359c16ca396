// Regression: the server kept every hard-linked file's xattrs and extents (and every path whole) for the
// whole backup, for a later link that might never come. A client sending files of two links and ~4 MiB of
// xattrs each, never a link, grew the server's memory one for one with what it sent (960 MiB sent, 1 GiB
// resident), until V8's heap limit would crash the server for every client. A later link now reads its
// first path's entry back from the write session, pending or flushed; these prove the memory stays bounded
// and that honest links, before and after a flush, still carry their first path's xattrs and extents.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import type * as grpc from '@grpc/grpc-js';
import { EntryType, type BackupClient, type BatchedEntry, type EntryMeta, type UploadRequest, type UploadResponse } from '../src/proto/cpsbackup';
import { batchedEntry } from '../src/common/wire/batched-entry';
import { commit, hostileClient, meta, sendUpload } from './support/hostile-client';
import { startInProcessServer, type InProcessServer } from './support/in-process-server';

const OPTIONS = { timeout: 300_000 };
const { FILE, SYMLINK, DIRECTORY } = { FILE: EntryType.ENTRY_TYPE_FILE, SYMLINK: EntryType.ENTRY_TYPE_SYMLINK, DIRECTORY: EntryType.ENTRY_TYPE_DIRECTORY };
const MiB = 1024 * 1024;
/** More entries than a write session gathers before its flush (backup-session.ts ENTRY_FLUSH_COUNT). */
const PAST_A_FLUSH = 4200;

/** A scheduled backup: a forced one needs a right the sandbox's client need not have. */
const scheduledBegin: UploadRequest = { message: { $case: 'begin', value: { hostname: 'hostile', kind: 0, parentBackupId: 0, labels: {}, clientVersion: 'test', isScheduled: true } } };

/** The engine's collector, asked for by flag in a fresh context (the test runner's own has no `gc`). */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function batch(entries: BatchedEntry[]): UploadRequest {
  return { message: { $case: 'batch', value: { entries } } };
}

/** Folders enough for the session to flush what came before them. */
function folders(prefix: string): UploadRequest {
  return batch(Array.from({ length: PAST_A_FLUSH }, (_, index) => batchedEntry(meta(`${prefix}/${String(index).padStart(5, '0')}`, DIRECTORY))));
}

async function withServer(use: (server: InProcessServer, client: BackupClient) => Promise<void>): Promise<void> {
  const server = await startInProcessServer(['node1']);
  let client: BackupClient | undefined;
  try {
    await mkdir(join(server.sandbox.root, 'nothing'));
    await server.nodeConfig('node1', [`include = ${join(server.sandbox.root, 'nothing')}`]);
    client = hostileClient(join(server.sandbox.root, 'node1.conf'));
    await use(server, client);
  } finally {
    client?.close();
    await server.stop();
  }
}

test('files of two links and 4 MiB of xattrs each, never linked: the server\'s heap stays bounded', OPTIONS, async (t) => {
  await withServer(async (_server, client) => {
    const gc = collector();
    const retained = (): number => {
      gc();
      const { heapUsed, external } = process.memoryUsage();
      return heapUsed + external;
    };
    const call = client.upload();
    let failure: grpc.ServiceError | undefined;
    call.on('error', (error: grpc.ServiceError) => { failure = error; });
    const answer = (): Promise<UploadResponse> => new Promise((resolve) => call.once('data', resolve));
    let answered = answer();
    call.write(scheduledBegin);
    await answered;
    const before = retained();
    let peak = 0;
    // 64 files of 60 values of 64 KiB (each within the per-entry limits): 240 MiB sent.
    const files = 64;
    for (let index = 0; index < files && failure === undefined; index++) {
      const xattrs = Array.from({ length: 60 }, (_, value) => ({ name: Buffer.from(`user.a${value}`), value: randomBytes(64 * 1024) }));
      call.write(batch([batchedEntry(meta(`/data/f${String(index).padStart(4, '0')}`, FILE, { nlink: 2, xattrs }))]));
      // A query's answer comes once the batch before it was handled.
      answered = answer();
      call.write({ message: { $case: 'query', value: { queryId: index + 1, hashes: randomBytes(32) } } });
      await answered;
      peak = Math.max(peak, retained() - before);
    }
    call.cancel();
    t.diagnostic(`retained heap and external memory grew by ${Math.round(peak / MiB)} MiB at most for ${Math.round(files * 3.75)} MiB of xattrs sent`);
    // The session flushes once its entries hold 64 MiB: what is retained beyond that was kept for links.
    assert.ok(peak < 128 * MiB, `retained memory grew by ${Math.round(peak / MiB)} MiB`);
  });
});

test('hard links sent before and after their first path was flushed carry its xattrs, extents and content', OPTIONS, async () => {
  await withServer(async (server, client) => {
    const xattrs = [{ name: Buffer.from('user.tag'), value: Buffer.from('first path') }, { name: Buffer.from('user.big'), value: randomBytes(4096) }];
    // Sparse: 5 bytes at 0 and 5 at 100 of 200.
    const content = Buffer.from('helloworld');
    const sparse = meta('/data/a', FILE, { nlink: 4, size: 200, extents: [0, 5, 100, 5], xattrs });
    const link = (path: string, target: string, type = FILE): EntryMeta => meta(path, type, { nlink: 4, hardlinkTarget: Buffer.from(target) });
    const symlink = meta('/data/s', SYMLINK, { nlink: 2, linkTarget: 'a', xattrs: [{ name: Buffer.from('user.link'), value: Buffer.from('symlink') }] });
    const outcome = await sendUpload(client, [scheduledBegin,
      batch([batchedEntry(sparse, { content }), batchedEntry(link('/data/b', '/data/a')), batchedEntry(symlink)]),
      folders('/data/dirs'),
      // Both first paths are in the catalog by now; "/data/d" names a link, not the first path.
      batch([batchedEntry(link('/data/c', '/data/a')), batchedEntry(link('/data/d', '/data/b')), batchedEntry(link('/data/t', '/data/s', SYMLINK))]),
      commit]);
    assert.equal(outcome.error, undefined, outcome.error?.details);
    const store = server.server.context.store;
    const backup = store.findBackup('node1', 0)!;
    const entries = new Map([...store.entries(backup)].filter(({ path }) => !path.toString().startsWith('/data/dirs')).map((entry) => [entry.path.toString(), entry]));
    const first = entries.get('/data/a')!;
    assert.notEqual(first.contentId, null);
    for (const path of ['/data/b', '/data/c', '/data/d']) {
      const entry = entries.get(path)!;
      assert.deepEqual(entry.xattrs, first.xattrs, `${path}: xattrs`);
      assert.deepEqual(entry.extents, [0, 5, 100, 5], `${path}: extents`);
      assert.equal(entry.size, 200, `${path}: size`);
      assert.equal(entry.contentId, first.contentId, `${path}: content`);
    }
    assert.deepEqual(entries.get('/data/t')!.xattrs, entries.get('/data/s')!.xattrs);
    assert.equal(entries.get('/data/t')!.xattrs[0].value.toString(), 'symlink');
  });
});

test('a path sent again, before or after the first was flushed, is refused; a link to a flushed file of one link too', OPTIONS, async () => {
  await withServer(async (_server, client) => {
    const empty = { content: Buffer.alloc(0), sha256: createHash('sha256').digest() };
    const cases: [string, UploadRequest[], RegExp][] = [
      ['before the flush', [batch([batchedEntry(meta('/data/a', FILE), empty), batchedEntry(meta('/data/a', FILE), empty)])], /entry \/data\/a sent twice/],
      ['after the flush', [batch([batchedEntry(meta('/data/a', FILE), empty)]), folders('/data/dirs'), batch([batchedEntry(meta('/data/a', FILE), empty)])], /entry \/data\/a sent twice/],
      ['a link to a file of one link', [batch([batchedEntry(meta('/data/a', FILE), empty)]), folders('/data/dirs'),
        batch([batchedEntry(meta('/data/b', FILE, { nlink: 2, hardlinkTarget: Buffer.from('/data/a') }))])], /not an earlier file of this backup/],
      ['a link to a path never sent', [batch([batchedEntry(meta('/data/b', FILE, { nlink: 2, hardlinkTarget: Buffer.from('/data/a') }))])], /not an earlier file of this backup/],
    ];
    for (const [what, messages, pattern] of cases) {
      const outcome = await sendUpload(client, [scheduledBegin, ...messages, commit]);
      assert.match(outcome.error?.details ?? 'accepted', pattern, what);
    }
  });
});
