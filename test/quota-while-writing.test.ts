// hard_quota and min_free hold while a backup writes, not only when it starts.
// Regression (red team, p2-quota-fill): both were checked at a backup's start only. bob, hard_quota
// 1M, stored 260 MiB in one backup and committed 200 MiB of it; aborted, it stayed held for his retry
// (resume_hold, 24 h), the disk stayed below min_free and every other client's backup was refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rmdir } from 'node:fs/promises';
import { statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackupClient, UploadRequest } from '../src/proto/cpsbackup';
import { EntryType } from '../src/proto/cpsbackup';
import { batchedEntry } from '../src/common/wire/batched-entry';
import { channelOptions, clientCredentials } from '../src/common/tls/credentials';
import { BackupClient as Client } from '../src/proto/cpsbackup';
import { begin, commit, meta, sendUpload } from './support/hostile-client';
import { startInProcessServer, type InProcessServer } from './support/in-process-server';

const MEBIBYTE = 1024 * 1024;
const abort: UploadRequest = { message: { $case: 'abort', value: { reason: 'test' } } };

function sha256(bytes: Buffer): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/** One file of `mebibytes` random MiB sent as bytes for the server to chunk (Data frames of 1 MiB), then `end`. */
function bytesUpload(path: string, mebibytes: number, end: UploadRequest): UploadRequest[] {
  const hash = createHash('sha256');
  const frames: UploadRequest[] = [];
  for (let index = 0; index < mebibytes; index++) {
    const chunk = randomBytes(MEBIBYTE);
    hash.update(chunk);
    frames.push({ message: { $case: 'data', value: { chunk } } });
  }
  const size = mebibytes * MEBIBYTE;
  return [begin, { message: { $case: 'entry', value: { meta: meta(path, EntryType.ENTRY_TYPE_FILE, { size }), sameAsParent: false } } }, ...frames,
    { message: { $case: 'entryEnd', value: { sha256: hash.digest(), size, damage: '' } } }, end];
}

/** One file of `count` random raw chunks of 256 KiB, sent by a client that chunks its own data, then `end`. */
function chunksUpload(path: string, count: number, end: UploadRequest): UploadRequest[] {
  const chunks = Array.from({ length: count }, () => randomBytes(256 * 1024));
  const messages: UploadRequest[] = chunks.map((payload) => ({ message: { $case: 'chunks', value: { chunks: [{ hash: sha256(payload), rawSize: payload.length, codec: 0, payload }] } } }));
  const entry = batchedEntry(meta(path, EntryType.ENTRY_TYPE_FILE, { size: count * 256 * 1024 }), { chunkHashes: Buffer.concat(chunks.map(sha256)) });
  return [begin, ...messages, { message: { $case: 'batch', value: { entries: [entry] } } }, end];
}

async function clientOf(harness: InProcessServer, name: string, t: { after(fn: () => void): void }): Promise<BackupClient> {
  const config = await harness.nodeConfig(name, []);
  const client = new Client(`${config.server}:${config.port}`, clientCredentials(config), channelOptions(config));
  t.after(() => client.close());
  return client;
}

test('a client under its hard_quota cannot store past it in one backup, committed or aborted, sent as bytes or as chunks', async (t) => {
  const quota = 2 * MEBIBYTE;
  const harness = await startInProcessServer(['bytes', 'aborted', 'chunks', 'small'], ['hard_quota = 2M']);
  t.after(() => harness.stop());
  const { store } = harness.server.context;
  const cases = [
    ['bytes', bytesUpload('/big', 12, commit)],
    ['aborted', bytesUpload('/big', 12, abort)],
    ['chunks', chunksUpload('/big', 48, commit)],
  ] as const;
  for (const [name, messages] of cases) {
    const client = await clientOf(harness, name, t);
    const outcome = await sendUpload(client, messages);
    assert.equal(outcome.error?.code, 8, `${name}: RESOURCE_EXHAUSTED, got ${outcome.error?.code} ${outcome.error?.details}`);
    assert.match(outcome.error!.details, new RegExp(`^backup of client "${name}" stopped: it reached its hard_quota of 2\\.0 MiB \\(${quota} bytes\\) while storing; `
      + 'with it the client would use [\\d.]+ MiB \\(\\d+ bytes\\) of the store, 0 B \\(0 bytes\\) before this backup; delete backups'));
    assert.deepEqual(store.listBackups(name), [], `${name}: nothing committed`);
    // What it stored before it was stopped is not held for a retry (it would stop there again): usage is what it was.
    assert.equal(store.clientUsage(name).bytes, 0, `${name}: usage after the stop`);
    const retry = await sendUpload(client, name === 'chunks' ? chunksUpload('/big', 48, commit) : bytesUpload('/big', 12, commit));
    assert.equal(retry.error?.code, 8, `${name} retry: ${retry.error?.details}`);
    assert.equal(store.clientUsage(name).bytes, 0, `${name} after its retry`);
  }
  // And the store lets go of it: what the three stopped backups stored is garbage for the next collection.
  await harness.server.context.maintenance.collectGarbage();
  assert.equal(store.figures().storedBytes, 0, 'nothing of the stopped backups is left');
  // A backup that fits is taken: the quota stops what passes it, nothing less.
  const small = await sendUpload(await clientOf(harness, 'small', t), chunksUpload('/fits', 7, commit));
  assert.equal(small.error, undefined, small.error?.details);
  // Its chunks and its one entry's path ('/fits'): what the catalog keeps of it counts too.
  assert.deepEqual(store.clientUsage('small'), { bytes: 7 * 256 * 1024 + 5, chunks: 7, metadataBytes: 5 });
});

// Regression (red team, p3-catalog-fill): folders with megabytes of xattrs each and no content filled the
// disk through the catalog while the client's usage stayed 0.
test('entries\' metadata (xattrs, names) counts against hard_quota while entries arrive', async (t) => {
  const harness = await startInProcessServer(['folders', 'modest'], ['hard_quota = 2M']);
  t.after(() => harness.stop());
  const { store } = harness.server.context;
  const folders = (first: number, count: number, xattrBytes: number): UploadRequest => ({ message: { $case: 'batch', value: { entries: Array.from({ length: count }, (_, offset) => first + offset).map((index) =>
    batchedEntry(meta(`/d${index}`, EntryType.ENTRY_TYPE_DIRECTORY, { xattrs: Array.from({ length: xattrBytes / 65536 }, (_, n) => ({ name: Buffer.from(`user.pad${n}`), value: Buffer.alloc(65536, index) })) }))) } } });
  const flooded = await sendUpload(await clientOf(harness, 'folders', t), [begin, folders(0, 3, 512 * 1024), folders(3, 3, 512 * 1024), commit]);
  assert.equal(flooded.error?.code, 8, `${flooded.error?.code} ${flooded.error?.details}`);
  assert.match(flooded.error!.details, /^backup of client "folders" stopped: it reached its hard_quota of 2\.0 MiB/);
  assert.deepEqual(store.listBackups('folders'), []);
  const modestClient = await clientOf(harness, 'modest', t);
  const modest = await sendUpload(modestClient, [begin, folders(0, 8, 64 * 1024), commit]);
  assert.equal(modest.error, undefined, modest.error?.details);
  // And once committed it stays counted: the same backup again and again reaches the quota (it was 0 for ever).
  const committed = store.clientUsage('modest');
  assert.ok(committed.metadataBytes >= 8 * 64 * 1024, `usage after the commit: ${JSON.stringify(committed)}`);
  assert.equal(committed.bytes, committed.metadataBytes);
  const outcomes: (string | undefined)[] = [];
  for (let round = 0; round < 4; round++) outcomes.push((await sendUpload(modestClient, [begin, folders(0, 8, 64 * 1024), commit])).error?.details);
  assert.deepEqual(outcomes.slice(0, 2), [undefined, undefined], 'the second and third fit');
  assert.match(outcomes[2] ?? '', /^backup of client "modest" stopped: it reached its hard_quota of 2\.0 MiB/, 'the fourth passes 2 MiB');
  assert.match(outcomes[3] ?? '', /^backup of client "modest" (stopped|refused)/);
  assert.equal(store.listBackups('modest').length, 3);
});

// Needs a small file system of its own: a tmpfs, which only root may mount.
const canMount = process.getuid?.() === 0;

test('an interrupted backup that took the disk below min_free does not lock the other clients out: its held chunks go first', { skip: canMount ? false : 'mounting a tmpfs needs root' }, async (t) => {
  const mountPoint = await mkdtemp(join(tmpdir(), 'cpsbackup-min-free-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=160m', 'tmpfs', mountPoint]);
  let harness: InProcessServer | undefined;
  // One hook, in this order: the server lets go of the store before its file system goes.
  t.after(async () => {
    await harness?.stop();
    execFileSync('umount', [mountPoint]);
    await rmdir(mountPoint);
  });
  const previousTmpdir = process.env.TMPDIR;
  process.env.TMPDIR = mountPoint;
  try {
    harness = await startInProcessServer(['filler', 'other'], ['min_free = 64M']);
  } finally {
    if (previousTmpdir === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previousTmpdir;
  }
  const free = (): number => {
    const stats = statfsSync(mountPoint);
    return stats.bavail * stats.bsize;
  };
  const filler = await clientOf(harness, 'filler', t);
  const other = await clientOf(harness, 'other', t);
  assert.equal((await sendUpload(other, [begin, commit])).error, undefined);

  // 120 MiB on 160: the store goes below min_free on the way, and the backup is stopped there.
  const filled = await sendUpload(filler, bytesUpload('/big', 120, abort));
  assert.equal(filled.error?.code, 8, `${filled.error?.code} ${filled.error?.details}`);
  assert.equal(filled.error!.details, 'backup of client "filler" stopped: the server\'s store is low on free space (see the server log)');
  assert.ok(free() < 64 * MEBIBYTE, `the held chunks keep the disk below min_free: ${free()} free`);
  // Not past min_free by more than the watch's interval (16 MiB) and a message.
  assert.ok(free() > 64 * MEBIBYTE - 20 * MEBIBYTE, `stopped near min_free: ${free()} free`);

  // Another client's backup: the chunks held only for the filler's retry are released and collected, and it goes.
  const after = await sendUpload(other, [begin, { message: { $case: 'batch', value: { entries: [batchedEntry(meta('/small', EntryType.ENTRY_TYPE_FILE, { size: 5 }), { content: Buffer.from('hello') })] } } }, commit]);
  assert.equal(after.error, undefined, after.error?.details);
  assert.ok(free() > 64 * MEBIBYTE, `room again: ${free()} free`);
  assert.ok(harness.log.some((line) => /below min_free = 64\.0 MiB \(67108864 bytes\): the chunks 1 interrupted backup held for a retry \(resume_hold, \d+ holds\) are released/.test(line)));
  // Its retry is asked for them again: it holds nothing now.
  assert.equal(harness.server.context.store.clientUsage('filler').bytes, 0);
});
