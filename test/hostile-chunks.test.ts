// Chunks from a client are checked, and a client learns nothing about others' data: a chunk whose
// bytes do not match its hash is refused and nothing is committed; a chunk list naming a chunk the
// client never sent nor holds is refused (dedup is not a way to read another client's data); and the
// answer to "which of these must I send" is the same for chunks another client holds as for chunks
// nobody has — in content, and in timing.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Sandbox } from './support/sandbox';
import { EntryType, type BackupClient, type EncodedChunk, type UploadRequest, type UploadResponse } from '../src/proto/cpsbackup';
import { listBackups } from '../src/client/catalog-calls';
import { batchedEntry } from '../src/common/wire/batched-entry';
import { writeDeterministicFile } from './support/trees';
import { backupNow, listedNumbers } from './support/fault-tools';
import { begin, commit, fileMessages, hostileClient, meta, sendUpload } from './support/hostile-client';
import { ChunkCodec } from '../src/chunkstore/codec';
import { Compressor } from 'zstd-napi';

const MEBIBYTE = 1024 * 1024;

function sha256(bytes: Buffer): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/** The chunk hashes of node1's file as the store recorded them, read from the catalog (server stopped). */
async function storedChunkHashes(sandbox: Sandbox): Promise<Buffer[]> {
  const { default: Database } = await import('better-sqlite3');
  const database = new Database(join(sandbox.storeDirectory, 'catalog.db'), { readonly: true });
  try {
    return database.prepare(`SELECT hash FROM chunks`).pluck().all() as Buffer[];
  } finally {
    database.close();
  }
}

/** A running server and crafted-upload clients for node1 and node2, both backing up nothing; stopped after the test. */
async function twoClients(t: TestContext, serverLines: string[] = []): Promise<{ sandbox: Sandbox; client1: BackupClient; client2: BackupClient }> {
  const sandbox = await Sandbox.create({ clients: ['node1', 'node2'] });
  t.after(() => sandbox.destroy());
  if (serverLines.length > 0) await sandbox.rewriteServerConfig(serverLines);
  await sandbox.startServer();
  const nothing = join(sandbox.root, 'nothing');
  await mkdir(nothing);
  const client1 = hostileClient(await sandbox.writeNodeConfig('node1', [`include = ${nothing}`]));
  const client2 = hostileClient(await sandbox.writeNodeConfig('node2', [`include = ${nothing}`]));
  t.after(() => { client1.close(); client2.close(); });
  return { sandbox, client1, client2 };
}

/** An upload call kept open: messages written one by one, answers read as they come. */
function openUpload(client: BackupClient): { call: grpc.ClientDuplexStream<UploadRequest, UploadResponse>; next(): Promise<UploadResponse> } {
  const call = client.upload();
  const queue: UploadResponse[] = [];
  const waiters: ((response: UploadResponse) => void)[] = [];
  call.on('data', (response: UploadResponse) => {
    const waiter = waiters.shift();
    if (waiter) waiter(response);
    else queue.push(response);
  });
  call.on('error', () => undefined);
  return { call, next: () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((resolve) => waiters.push(resolve))) };
}


/** Sends an upload that must commit; returns the new and stored bytes its commit reports. */
async function committedBytesOf(client: BackupClient, messages: UploadRequest[]): Promise<{ newBytes: number; storedBytes: number }> {
  const outcome = await sendUpload(client, messages);
  assert.equal(outcome.error, undefined, outcome.error?.details);
  const committed = outcome.responses.find((response) => response.message?.$case === 'committed');
  const { newBytes, storedBytes } = (committed!.message as { value: { newBytes: number; storedBytes: number } }).value;
  return { newBytes, storedBytes };
}

test('a client asking about another client\'s chunks hears what it hears about chunks nobody has, no faster and no slower', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1', 'node2'] });
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  await writeDeterministicFile(join(data, 'secret.bin'), 'node1 secret', 16 * MEBIBYTE);
  await sandbox.startServer();
  const config1 = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  await backupNow(sandbox, config1, data);
  await sandbox.runningServer!.stop();
  const held = await storedChunkHashes(sandbox);
  assert.ok(held.length > 100, `node1 stored ${held.length} chunks`);
  await sandbox.startServer();
  const config2 = await sandbox.writeNodeConfig('node2', [`include = ${join(sandbox.root, 'nothing')}`]);
  await mkdir(join(sandbox.root, 'nothing'));
  const client = hostileClient(config2);
  t.after(() => client.close());
  const upload = openUpload(client);
  upload.call.write(begin);
  assert.equal((await upload.next()).message?.$case, 'beginAck');

  const ask = async (queryId: number, hashes: Buffer[]): Promise<{ missing: Buffer; nanoseconds: bigint }> => {
    const started = process.hrtime.bigint();
    upload.call.write({ message: { $case: 'query', value: { queryId, hashes: Buffer.concat(hashes) } } });
    const response = await upload.next();
    const nanoseconds = process.hrtime.bigint() - started;
    assert.equal(response.message?.$case, 'answer');
    return { missing: (response.message as { value: { missing: Buffer } }).value.missing, nanoseconds };
  };
  const allMissing = (count: number): Buffer => Buffer.from(Array.from({ length: Math.ceil(count / 8) }, (_, index) => (index < Math.floor(count / 8) ? 0xff : (1 << (count % 8)) - 1)));
  const sample = held.slice(0, 128);
  const timings = { held: [] as bigint[], unknown: [] as bigint[] };
  for (let round = 0; round < 60; round++) {
    // Alternated, so the machine's noise falls on both alike; fresh unknown hashes every time.
    const heldAnswer = await ask(round * 2 + 1, sample);
    const unknownAnswer = await ask(round * 2 + 2, sample.map(() => randomBytes(32)));
    assert.deepEqual(heldAnswer.missing, allMissing(sample.length), 'every chunk node1 holds is "missing" for node2');
    assert.deepEqual(unknownAnswer.missing, allMissing(sample.length));
    timings.held.push(heldAnswer.nanoseconds);
    timings.unknown.push(unknownAnswer.nanoseconds);
  }
  upload.call.cancel();
  const median = (values: bigint[]): number => Number([...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))[values.length >> 1]);
  const heldMedian = median(timings.held);
  const unknownMedian = median(timings.unknown);
  t.diagnostic(`median answer time: chunks node1 holds ${(heldMedian / 1e6).toFixed(3)} ms, chunks nobody has ${(unknownMedian / 1e6).toFixed(3)} ms`);
  // The answer reads node2's own rows only; a gap would need a second index lookup per known hash.
  assert.ok(Math.abs(heldMedian - unknownMedian) < 0.25 * Math.max(heldMedian, unknownMedian) + 200_000,
    `answers about another client's chunks take ${heldMedian} ns against ${unknownMedian} ns for unknown ones`);
});

test('a chunk that does not match its hash, and a chunk list naming a chunk never sent: refused, nothing committed', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1', 'node2'] });
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  await writeDeterministicFile(join(data, 'secret.bin'), 'node1 secret', 4 * MEBIBYTE);
  await sandbox.startServer();
  const config1 = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  await backupNow(sandbox, config1, data);
  await sandbox.runningServer!.stop();
  const [stolen] = await storedChunkHashes(sandbox);
  await sandbox.startServer();
  const config2 = await sandbox.writeNodeConfig('node2', [`include = ${join(sandbox.root, 'nothing')}`]);
  const client = hostileClient(config2);
  t.after(() => client.close());

  const raw = randomBytes(40_000);
  const lying: UploadRequest = { message: { $case: 'chunks', value: { chunks: [{ hash: sha256(Buffer.from('something else')), rawSize: raw.length, codec: 0, payload: raw }] } } };
  const poisoned = await sendUpload(client, [begin, lying, commit]);
  assert.equal(poisoned.error?.code, grpc.status.INVALID_ARGUMENT, poisoned.error?.details);
  assert.match(poisoned.error!.details, /does not match its hash: refused/);

  const bomb = { hash: sha256(Buffer.alloc(1024)), rawSize: 1024, codec: 1, payload: Buffer.from('28b52ffd', 'hex') };
  const bombed = await sendUpload(client, [begin, { message: { $case: 'chunks', value: { chunks: [bomb] } } }, commit]);
  assert.equal(bombed.error?.code, grpc.status.INVALID_ARGUMENT);
  assert.match(bombed.error!.details, /its zstd frame is malformed .*: refused/);

  // A raw chunk whose declared size is not its length, either way: the size would go into the chunk's
  // catalog row, which every client that later sends the same bytes is deduplicated against.
  for (const rawSize of [1, raw.length - 1, raw.length + 1]) {
    const misdeclared = { hash: sha256(raw), rawSize, codec: 0, payload: raw };
    const entry = batchedEntry(meta('/misdeclared.bin', EntryType.ENTRY_TYPE_FILE, { size: rawSize }), { chunkHashes: sha256(raw) });
    const misread = await sendUpload(client, [begin, { message: { $case: 'chunks', value: { chunks: [misdeclared] } } },
      { message: { $case: 'batch', value: { entries: [entry] } } }, commit]);
    assert.equal(misread.error?.code, grpc.status.INVALID_ARGUMENT, `raw chunk of ${raw.length} bytes declared as ${rawSize}: ${misread.error?.details}`);
    assert.match(misread.error!.details, /declares \d+ bytes and carries \d+: refused/);
  }

  const file = meta('/stolen.bin', EntryType.ENTRY_TYPE_FILE, { size: 1 });
  const theft: UploadRequest = { message: { $case: 'batch', value: { entries: [batchedEntry(file, { chunkHashes: stolen })] } } };
  const refused = await sendUpload(client, [begin, theft, commit]);
  assert.equal(refused.error?.code, grpc.status.INVALID_ARGUMENT);
  assert.match(refused.error!.details, /was neither sent in this backup nor is it one this client holds/);
  assert.deepEqual(await listedNumbers(sandbox, config2), []);
});

// Regression: a zstd chunk was checked only for what it decodes to, so its payload could carry anything
// zstd skips (a skippable frame) or be cut into many frames. The payload is what the shared chunk row
// stores and counts: every client later deduplicated against it pays that stored size in its quota, and
// every restore of those bytes reads it.
test('a zstd chunk padded with a skippable frame, split into two frames, or no smaller than its bytes is refused; one frame is stored', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node2'] });
  t.after(() => sandbox.destroy());
  await sandbox.startServer();
  const config2 = await sandbox.writeNodeConfig('node2', [`include = ${join(sandbox.root, 'nothing')}`]);
  const client = hostileClient(config2);
  t.after(() => client.close());
  const codec = new ChunkCodec(3);
  const raw = Buffer.from('compressible text, '.repeat(4000));
  const frame = codec.encode(raw).payload;
  assert.ok(frame.length < raw.length / 10, 'the sample compresses');
  const skippable = Buffer.alloc(8 + 1024 * 1024);
  skippable.writeUInt32LE(0x184d2a50, 0);
  skippable.writeUInt32LE(1024 * 1024, 4);
  const half = raw.length / 2;
  const random = randomBytes(40_000);
  const uploadOf = (bytes: Buffer, payload: Buffer, path: string): UploadRequest[] => [begin,
    { message: { $case: 'chunks', value: { chunks: [{ hash: sha256(bytes), rawSize: bytes.length, codec: 1, payload }] } } },
    { message: { $case: 'batch', value: { entries: [batchedEntry(meta(path, EntryType.ENTRY_TYPE_FILE, { size: bytes.length }), { chunkHashes: sha256(bytes) })] } } },
    commit];
  const hostile = [
    { name: 'a skippable frame before the frame', bytes: raw, payload: Buffer.concat([skippable, frame]) },
    { name: 'a skippable frame after the frame', bytes: raw, payload: Buffer.concat([frame, skippable]) },
    { name: 'two frames', bytes: raw, payload: Buffer.concat([codec.encode(raw.subarray(0, half)).payload, codec.encode(raw.subarray(half)).payload]) },
    { name: 'a frame larger than its bytes', bytes: random, payload: new Compressor().compress(random) },
  ];
  for (const { name, bytes, payload } of hostile) {
    const outcome = await sendUpload(client, uploadOf(bytes, payload, '/padded.bin'));
    assert.equal(outcome.error?.code, grpc.status.INVALID_ARGUMENT, `${name}: ${outcome.error?.details ?? 'committed'}`);
    assert.match(outcome.error!.details, /refused/, name);
  }
  assert.deepEqual(await listedNumbers(sandbox, config2), []);
  const honest = await sendUpload(client, uploadOf(raw, frame, '/honest.bin'));
  assert.equal(honest.error, undefined, honest.error?.details);
  await sandbox.runningServer!.stop();
  const { default: Database } = await import('better-sqlite3');
  const database = new Database(join(sandbox.storeDirectory, 'catalog.db'), { readonly: true });
  try {
    assert.deepEqual(database.prepare(`SELECT raw_size AS rawSize, stored_size AS storedSize FROM chunks`).all(),
      [{ rawSize: raw.length, storedSize: frame.length }]);
  } finally {
    database.close();
  }
});

// Regression: a backup's new bytes counted only bytes new to the whole store, so a client that sent a
// file another client had stored read "0 new bytes" in its commit summary and its list: the
// confirmation-of-a-file oracle that the chunk answers were built to close.
test('a backup\'s new bytes are the same for bytes another client stored as for bytes nobody has, whichever way they came', async (t) => {
  const { sandbox, client1, client2 } = await twoClients(t);
  const chunkUpload = (bytes: Buffer, path: string): UploadRequest[] => [begin,
    { message: { $case: 'chunks', value: { chunks: [{ hash: sha256(bytes), rawSize: bytes.length, codec: 0, payload: bytes }] } } },
    { message: { $case: 'batch', value: { entries: [batchedEntry(meta(path, EntryType.ENTRY_TYPE_FILE, { size: bytes.length }), { chunkHashes: sha256(bytes) })] } } },
    commit];
  const inlineUpload = (bytes: Buffer, path: string): UploadRequest[] => [begin,
    { message: { $case: 'batch', value: { entries: [batchedEntry(meta(path, EntryType.ENTRY_TYPE_FILE, { size: bytes.length }), { content: bytes })] } } },
    commit];
  const streamUpload = (bytes: Buffer, path: string): UploadRequest[] => [begin, ...fileMessages(path, bytes), commit];
  const ways = [
    { name: 'chunks cut by the client', upload: chunkUpload, size: 40_000 },
    { name: 'a small file sent inline', upload: inlineUpload, size: 30_000 },
    { name: 'a file streamed for the server to chunk', upload: streamUpload, size: 3 * MEBIBYTE },
  ];
  for (const { name, upload, size } of ways) {
    const held = randomBytes(size);
    assert.deepEqual(await committedBytesOf(client1, upload(held, '/held.bin')), { newBytes: size, storedBytes: size }, `${name}: node1 stores its bytes`);
    const heldByOther = await committedBytesOf(client2, upload(held, '/copy.bin'));
    const heldByNobody = await committedBytesOf(client2, upload(randomBytes(size), '/fresh.bin'));
    assert.deepEqual(heldByOther, heldByNobody, `${name}: node2 sending node1's bytes reads ${JSON.stringify(heldByOther)}, new bytes ${JSON.stringify(heldByNobody)}`);
    assert.deepEqual(heldByOther, { newBytes: size, storedBytes: size }, name);
    // Its own bytes again are not new: dedup against the client's own backups is what the figure shows.
    assert.deepEqual(await committedBytesOf(client2, upload(held, '/again.bin')), { newBytes: 0, storedBytes: 0 }, `${name}: node2 sends the bytes again`);
  }
  // The real client, which cuts and compresses chunks itself: node2 reads in its list what node1 read.
  const log = Buffer.from(Array.from({ length: 40_000 }, (_, index) => `line ${index} of a log that compresses well\n`).join(''));
  const lastListed = async (client: string): Promise<{ newBytes: number; storedBytes: number }> => {
    const data = join(sandbox.root, `data-${client}`);
    await mkdir(data);
    await writeFile(join(data, 'app.log'), log);
    const config = await sandbox.writeNodeConfig(client, [`include = ${data}`]);
    await backupNow(sandbox, config, data);
    const listed = JSON.parse((await sandbox.runClient(['-c', config, '-l', '--json'])).stdout) as { newBytes: number; storedBytes: number }[];
    const { newBytes, storedBytes } = listed[listed.length - 1];
    return { newBytes, storedBytes };
  };
  const first = await lastListed('node1');
  assert.ok(first.newBytes === log.length && first.storedBytes < log.length / 4, `node1: ${JSON.stringify(first)} for ${log.length} bytes`);
  assert.deepEqual(await lastListed('node2'), first);
});

// Regression: a chunk another client had stored became known to a client that sent it in a backup it
// then abandoned (once the session had flushed), and stayed known: no hold keeps such a chunk for a
// retry, and the sweep forgets a chunk for everyone only once nobody references it. So after the hold
// of its own chunks expired, "held" in an answer told the client that some other client still has the bytes.
test('a chunk another client stored is not known to a client that only sent it in an abandoned backup', async (t) => {
  const { client1, client2 } = await twoClients(t, ['resume_hold = 1s']);
  const guessed = randomBytes(40_000);
  const nobodys = randomBytes(40_000);
  const chunkOf = (bytes: Buffer): EncodedChunk => ({ hash: sha256(bytes), rawSize: bytes.length, codec: 0, payload: bytes });
  const abort: UploadRequest = { message: { $case: 'abort', value: { reason: 'probe' } } };
  const stored = await sendUpload(client1, [begin, { message: { $case: 'chunks', value: { chunks: [chunkOf(guessed)] } } },
    { message: { $case: 'batch', value: { entries: [batchedEntry(meta('/guessed.bin', EntryType.ENTRY_TYPE_FILE, { size: guessed.length }), { chunkHashes: sha256(guessed) })] } } },
    commit]);
  assert.equal(stored.error, undefined, stored.error?.details);
  // Enough entries for the session to flush what it used into the catalog before the abort.
  const folders = Array.from({ length: 4200 }, (_, index) => batchedEntry(meta(`/folder${index}`, EntryType.ENTRY_TYPE_DIRECTORY), {}));
  const abandoned = await sendUpload(client2, [begin, { message: { $case: 'chunks', value: { chunks: [chunkOf(guessed), chunkOf(nobodys)] } } },
    { message: { $case: 'batch', value: { entries: folders } } }, abort]);
  assert.match(abandoned.error?.details ?? '', /client aborted the backup: probe/);
  const missingBits = async (): Promise<number> => {
    const outcome = await sendUpload(client2, [begin, { message: { $case: 'query', value: { queryId: 1, hashes: Buffer.concat([sha256(guessed), sha256(nobodys)]) } } }, abort]);
    const answer = outcome.responses.find((response) => response.message?.$case === 'answer');
    return (answer!.message as { value: { missing: Buffer } }).value.missing[0];
  };
  // The chunk node2 alone stored is held for its retry, then swept (each probe's abandonment starts a collection).
  let bits = await missingBits();
  for (let probe = 0; probe < 60 && (bits & 0b10) === 0; probe++) {
    await sleep(500);
    bits = await missingBits();
  }
  assert.equal(bits & 0b10, 0b10, 'node2\'s own chunk was swept once its hold expired');
  assert.equal(bits & 0b01, 0b01, 'the chunk node1 stored must be "missing" for node2 too, as it is for bytes nobody has');
});

// Regression: the Delete reply said how many bytes the collection after it freed in the whole store. A
// client that backed up guessed bytes and deleted that backup read 0 when another client held them and
// the pack's size when nobody did (and other clients' deletions in the same figure). It now says how
// much of the client's own data no backup of it references any more, before compression: the stored
// size is that of whoever stored the chunk first, which would tell the same thing.
test('deleting a backup reports the same figure for bytes another client holds as for bytes nobody has', async (t) => {
  const { client1, client2 } = await twoClients(t);
  const compressible = (seed: string): Buffer => Buffer.from(`${seed}: `.padEnd(40, '.').repeat(1000));
  const codec = new ChunkCodec(3);
  const upload = (client: BackupClient, bytes: Buffer, codecNumber: number): Promise<void> => {
    const payload = codecNumber === 0 ? bytes : codec.encode(bytes).payload;
    return sendUpload(client, [begin,
      { message: { $case: 'chunks', value: { chunks: [{ hash: sha256(bytes), rawSize: bytes.length, codec: codecNumber, payload }] } } },
      { message: { $case: 'batch', value: { entries: [batchedEntry(meta('/guess.bin', EntryType.ENTRY_TYPE_FILE, { size: bytes.length }), { chunkHashes: sha256(bytes) })] } } },
      commit]).then((outcome) => assert.equal(outcome.error, undefined, outcome.error?.details));
  };
  const deleteNewest = async (client: BackupClient): Promise<number> => {
    const newest = (await listBackups(client, 'the test server')).at(-1)!.backupId;
    return new Promise((resolve, reject) => {
      client.delete({ backupId: newest, clientName: '', force: true }, (error, response) => (error ? reject(error) : resolve(response.unreferencedBytes)));
    });
  };
  const held = compressible('held by node1');
  const nobodys = compressible('held by nobody');
  assert.equal(held.length, nobodys.length);
  assert.ok(codec.encode(held).payload.length < held.length / 4, 'the sample compresses');
  // node1 stores the bytes compressed; node2 guesses them and sends them raw, as it does bytes nobody has.
  await upload(client1, held, 1);
  await upload(client2, held, 0);
  const afterGuess = await deleteNewest(client2);
  await upload(client2, nobodys, 0);
  const afterFresh = await deleteNewest(client2);
  assert.equal(afterGuess, afterFresh, `node2 read ${afterGuess} bytes for node1's bytes and ${afterFresh} for bytes nobody has`);
  assert.equal(afterGuess, held.length, 'the raw bytes of the client\'s own data it no longer references');
});

// Regression: a backup's stored bytes counted, for a chunk another client had stored, that client's
// stored size. A client that sent compressible bytes raw read their compressed size when another
// client had stored them compressed, and their raw size when nobody had; a server-chunked file read
// the first uploader's encoding instead of the server's. Its own copy is what counts now.
test('a backup\'s stored bytes are those of its own copy, however another client stored the same bytes', async (t) => {
  const { client1, client2 } = await twoClients(t);
  const codec = new ChunkCodec(3);
  const compressible = (seed: string): Buffer => Buffer.from(`${seed}: `.padEnd(40, '.').repeat(750));
  const entryOf = (bytes: Buffer, path: string, content: { chunkHashes: Buffer } | { content: Buffer }): UploadRequest =>
    ({ message: { $case: 'batch', value: { entries: [batchedEntry(meta(path, EntryType.ENTRY_TYPE_FILE, { size: bytes.length }), content)] } } });
  const chunked = (bytes: Buffer, codecNumber: number): UploadRequest[] => [begin,
    { message: { $case: 'chunks', value: { chunks: [{ hash: sha256(bytes), rawSize: bytes.length, codec: codecNumber, payload: codecNumber === 0 ? bytes : codec.encode(bytes).payload }] } } },
    entryOf(bytes, '/chunked.bin', { chunkHashes: sha256(bytes) }), commit];
  const inline = (bytes: Buffer): UploadRequest[] => [begin, entryOf(bytes, '/inline.bin', { content: bytes }), commit];
  // What node2's backup would read had nobody stored the bytes: its payload as sent, or the server's
  // own encoding (compression_level 3, as `codec`). Bytes nobody has, sent the same way, prove the yardstick.
  const ways = [
    { name: 'node1 stored them compressed, node2 sends them raw', first: (bytes: Buffer) => chunked(bytes, 1), second: (bytes: Buffer) => chunked(bytes, 0),
      ownCopy: (bytes: Buffer) => bytes.length },
    { name: 'node1 stored them raw, node2 sends them for the server to chunk', first: (bytes: Buffer) => chunked(bytes, 0), second: inline,
      ownCopy: (bytes: Buffer) => codec.encode(bytes).payload.length },
  ];
  for (const [index, { name, first, second, ownCopy }] of ways.entries()) {
    const held = compressible(`held ${index}`);
    const nobodys = compressible(`nobody's ${index}`);
    assert.ok(codec.encode(held).payload.length < held.length / 4, 'the sample compresses');
    await committedBytesOf(client1, first(held));
    assert.deepEqual(await committedBytesOf(client2, second(nobodys)), { newBytes: nobodys.length, storedBytes: ownCopy(nobodys) }, `${name}: bytes nobody has`);
    assert.deepEqual(await committedBytesOf(client2, second(held)), { newBytes: held.length, storedBytes: ownCopy(held) }, `${name}: node1's bytes`);
  }
});

// Regression (review of the cover writes): a backup abandoned before its next flush kept what it stored
// for its retry but forgot what it had sent of chunks other clients hold, so the retry was asked for
// exactly the chunks another client holds (16 of 16 of them, 0 of 16 of its own), whether the backup
// was aborted, cancelled or aborted after its entries. Both are held for the retry alike now.
test('the retry of an abandoned backup is asked for the same chunks whether another client holds them or not', async (t) => {
  const { client1, client2 } = await twoClients(t);
  const chunksOf = (bytes: Buffer): EncodedChunk[] => Array.from({ length: bytes.length / (128 * 1024) }, (_, index) => bytes.subarray(index * 128 * 1024, (index + 1) * 128 * 1024))
    .map((chunk) => ({ hash: sha256(chunk), rawSize: chunk.length, codec: 0, payload: chunk }));
  const entryOf = (bytes: Buffer, path: string): UploadRequest => ({ message: { $case: 'batch', value: { entries: [
    batchedEntry(meta(path, EntryType.ENTRY_TYPE_FILE, { size: bytes.length }), { chunkHashes: Buffer.concat(chunksOf(bytes).map((chunk) => chunk.hash)) })] } } });
  const abort: UploadRequest = { message: { $case: 'abort', value: { reason: 'probe' } } };
  const missingCounts = async (held: Buffer, fresh: Buffer): Promise<{ held: number; fresh: number }> => {
    const hashes = [...chunksOf(held), ...chunksOf(fresh)].map((chunk) => chunk.hash);
    const outcome = await sendUpload(client2, [begin, { message: { $case: 'query', value: { queryId: 1, hashes: Buffer.concat(hashes) } } }, abort]);
    const answer = outcome.responses.find((response) => response.message?.$case === 'answer');
    const missing = (answer!.message as { value: { missing: Buffer } }).value.missing;
    const count = (from: number, to: number): number => {
      let bits = 0;
      for (let index = from; index < to; index++) if (missing[index >> 3] & (1 << (index & 7))) bits++;
      return bits;
    };
    return { held: count(0, hashes.length / 2), fresh: count(hashes.length / 2, hashes.length) };
  };
  for (const way of ['abort', 'abort after the entries', 'cancel']) {
    const held = randomBytes(16 * 128 * 1024);
    const fresh = randomBytes(held.length);
    const stored = await sendUpload(client1, [begin, { message: { $case: 'chunks', value: { chunks: chunksOf(held) } } }, entryOf(held, '/held'), commit]);
    assert.equal(stored.error, undefined, stored.error?.details);
    const sent: UploadRequest[] = [begin, { message: { $case: 'chunks', value: { chunks: chunksOf(held) } } }, { message: { $case: 'chunks', value: { chunks: chunksOf(fresh) } } }];
    if (way === 'cancel') {
      const upload = openUpload(client2);
      for (const message of sent) upload.call.write(message);
      // The chunks' acknowledgement is the answer to a query sent after them: then they are in the session.
      upload.call.write({ message: { $case: 'query', value: { queryId: 9, hashes: chunksOf(fresh)[0].hash } } });
      while ((await upload.next()).message?.$case !== 'answer');
      upload.call.cancel();
      await sleep(500);
    } else {
      const abandoned = await sendUpload(client2, [...sent, ...(way === 'abort' ? [] : [entryOf(held, '/copy'), entryOf(fresh, '/fresh')]), abort]);
      assert.match(abandoned.error?.details ?? '', /client aborted the backup: probe/);
    }
    assert.deepEqual(await missingCounts(held, fresh), { held: 0, fresh: 0 }, `${way}: node2's retry is told it holds both files' chunks`);
  }
});
