// A restore must not tell a client that another client stored the same bytes first, by what it sends
// back. The store keeps one copy of each chunk, as its first uploader encoded it; a client that sent the
// same bytes encoded otherwise (raw where the store holds zstd: a client chooses its payload) got the
// first uploader's encoding back from its restore: a confirmation-of-a-file oracle by content. Now such
// a payload is kept as the client's own copy and its restores read that; a client that sends the same
// payload shares the one copy. The own copy lives and dies with the client's knowledge of the chunk:
// garbage collection carries it through a compaction, and frees its space once the client gives it up.
// Both ways of sending: chunks the client cut, and bytes the server cuts and encodes.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Sandbox } from './support/sandbox';
import { EntryType, type BackupClient, type EncodedChunk, type RestoreResponse, type UploadRequest } from '../src/proto/cpsbackup';
import { batchedEntry } from '../src/common/wire/batched-entry';
import { ChunkCodec } from '../src/chunkstore/codec';
import { createFastCdcFactory } from '../src/chunkstore/chunker/fastcdc';
import { DEFAULT_CHUNKER_PARAMS } from '../src/common/chunker-defaults';
import { Codec } from '../src/chunkstore/pack/pack-format';
import { begin, commit, hostileClient, meta, sendUpload } from './support/hostile-client';

const KIB = 1024;
const CHUNK_SIZE = 128 * KIB;
const CHUNKS = 24;

function sha256(bytes: Buffer): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/** Compressible bytes no other test stores, every chunk unlike the others: random words in random order. */
function compressibleBytes(): Buffer {
  const words = Array.from({ length: 256 }, () => randomBytes(6).toString('hex'));
  const order = randomBytes(CHUNKS * CHUNK_SIZE / 13 + 1);
  const text: string[] = [];
  for (let index = 0; index < order.length; index++) text.push(words[order[index]]);
  return Buffer.from(text.join(' ')).subarray(0, CHUNKS * CHUNK_SIZE);
}

/** The upload of one file as the client cuts it (128 KiB chunks), each chunk encoded by `encode`. */
function upload(bytes: Buffer, path: string, encode: (raw: Buffer) => { codec: number; payload: Buffer }): UploadRequest[] {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += CHUNK_SIZE) chunks.push(bytes.subarray(offset, offset + CHUNK_SIZE));
  const messages: UploadRequest[] = [];
  for (let index = 0; index < chunks.length; index += 8) {
    messages.push({ message: { $case: 'chunks', value: { chunks: chunks.slice(index, index + 8).map((chunk) => ({ hash: sha256(chunk), rawSize: chunk.length, ...encode(chunk) })) } } });
  }
  const entry = batchedEntry(meta(path, EntryType.ENTRY_TYPE_FILE, { size: bytes.length }), { chunkHashes: Buffer.concat(chunks.map(sha256)) });
  return [begin, ...messages, { message: { $case: 'batch', value: { entries: [entry] } } }, commit];
}

async function committed(client: BackupClient, messages: UploadRequest[]): Promise<void> {
  const outcome = await sendUpload(client, messages);
  assert.equal(outcome.error, undefined, outcome.error?.details);
  assert.ok(outcome.responses.some((response) => response.message?.$case === 'committed'), 'the upload committed');
}

/** The chunks a restore of the client's latest backup sends, as codec names; and the restored bytes. */
async function restoredChunks(client: BackupClient, codec: ChunkCodec): Promise<{ codecs: Set<string>; bytes: Buffer }> {
  const call = client.restore({ backupId: 0, clientName: '', paths: [], acceptsBatches: true, pathRegex: '', protocolVersion: 2, skipFifoContent: false, strip: 0 });
  const chunks: EncodedChunk[] = [];
  for await (const response of call as AsyncIterable<RestoreResponse>) {
    const message = response.message!;
    if (message.$case === 'chunks') chunks.push(...message.value.chunks);
    if (message.$case === 'batch') for (const item of message.value.entries) chunks.push(...(item.chunks ?? []));
  }
  const codecs = new Set(chunks.map((chunk) => (chunk.codec === Codec.Raw ? 'raw' : 'zstd')));
  return { codecs, bytes: Buffer.concat(chunks.map((chunk) => codec.decode(chunk.codec, chunk.payload, chunk.rawSize))) };
}

/** The own copies the store's catalog records, and the packs they lie in (the server stopped). */
function ownCopyPacks(sandbox: Sandbox): { copies: number; packs: number[] } {
  const catalog = new Database(join(sandbox.storeDirectory, 'catalog.db'), { readonly: true });
  try {
    const packs = catalog.prepare('SELECT DISTINCT pack_id FROM client_chunks WHERE pack_id IS NOT NULL ORDER BY pack_id').pluck().all() as number[];
    const copies = catalog.prepare('SELECT COUNT(*) FROM client_chunks WHERE pack_id IS NOT NULL').pluck().get() as number;
    return { copies, packs };
  } finally {
    catalog.close();
  }
}

/** A server, and these nodes connected to it as crafted clients (their configurations back up an empty folder). */
async function serverWithNodes(t: TestContext, names: readonly string[]): Promise<{ sandbox: Sandbox; nothing: string; clients: BackupClient[] }> {
  const sandbox = await Sandbox.create({ clients: [...names] });
  t.after(() => sandbox.destroy());
  await sandbox.startServer();
  const nothing = join(sandbox.root, 'nothing');
  await mkdir(nothing);
  const clients = await Promise.all(names.map(async (name) => hostileClient(await sandbox.writeNodeConfig(name, [`include = ${nothing}`]))));
  t.after(() => { for (const client of clients) client.close(); });
  return { sandbox, nothing, clients };
}

/** Overwrites bytes of the payload of the record `query` finds (its pack's name and offset), the server stopped. */
async function damageRecord(sandbox: Sandbox, query: string): Promise<void> {
  const catalog = new Database(join(sandbox.storeDirectory, 'catalog.db'), { readonly: true });
  const record = catalog.prepare(query).get() as { name: string; offset: number };
  catalog.close();
  const packsFolder = join(sandbox.storeDirectory, 'packs');
  const packFile = (await readdir(packsFolder, { withFileTypes: true, recursive: true })).find((entry) => entry.isFile() && entry.name.startsWith(record.name));
  assert.ok(packFile !== undefined, `pack ${record.name} under ${packsFolder}`);
  const handle = await open(join(packFile.parentPath, packFile.name), 'r+');
  await handle.write(Buffer.from('damage'), 0, 6, record.offset + 200);
  await handle.close();
}

async function packBytes(folder: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(folder, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

test('a client that sends bytes another client stored first, encoded otherwise, gets its own encoding back, through a compaction; the same encoding is stored once', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1', 'node2', 'node3'] });
  t.after(() => sandbox.destroy());
  await sandbox.startServer();
  const nothing = join(sandbox.root, 'nothing');
  await mkdir(nothing);
  const configs = await Promise.all(['node1', 'node2', 'node3'].map((name) => sandbox.writeNodeConfig(name, [`include = ${nothing}`])));
  const [node1, node2, node3] = configs.map((config) => hostileClient(config));
  t.after(() => { node1.close(); node2.close(); node3.close(); });
  const codec = new ChunkCodec(3);
  const zstd = (raw: Buffer): { codec: number; payload: Buffer } => codec.encode(raw);
  const raw = (chunk: Buffer): { codec: number; payload: Buffer } => ({ codec: Codec.Raw, payload: chunk });
  const packs = join(sandbox.storeDirectory, 'packs');

  const bytes = compressibleBytes();
  await committed(node1, upload(bytes, '/data/shared.txt', zstd));
  assert.deepEqual([...(await restoredChunks(node1, codec)).codecs], ['zstd']);
  const afterNode1 = await packBytes(packs);

  // node2 sends the same bytes raw: before the fix its restore came back zstd, node1's encoding.
  await committed(node2, upload(bytes, '/data/copy.txt', raw));
  const node2Restore = await restoredChunks(node2, codec);
  assert.deepEqual([...node2Restore.codecs], ['raw'], 'its own encoding: nothing tells it that node1 stored the bytes first');
  assert.ok(node2Restore.bytes.equals(bytes));
  const afterNode2 = await packBytes(packs);
  assert.ok(afterNode2 - afterNode1 >= bytes.length, `node2's own copy is stored: ${afterNode2 - afterNode1} bytes more`);

  // node3 sends node1's very payload: one copy serves both.
  await committed(node3, upload(bytes, '/data/same.txt', zstd));
  assert.deepEqual([...(await restoredChunks(node3, codec)).codecs], ['zstd']);
  assert.ok(await packBytes(packs) - afterNode2 < CHUNK_SIZE, 'the same payload is not stored again');

  // node1 deletes its backup; a full collection compacts the packs node1's chunks left sparse or small.
  const deleted = await sandbox.runClient(['-c', configs[0], '-d', '1', '--force']);
  assert.equal(deleted.code, 0, deleted.stdout + deleted.stderr);
  await sandbox.runningServer!.stop();
  const collected = await sandbox.runServerCommand(['gc']);
  assert.equal(collected.code, 0, collected.stdout + collected.stderr);
  const checked = await sandbox.runServerCommand(['check', '--read-data']);
  assert.equal(checked.code, 0, checked.stdout + checked.stderr);
  await sandbox.startServer();
  // The server listens on a new port: the nodes' configurations are written anew.
  configs.splice(0, 3, ...await Promise.all(['node1', 'node2', 'node3'].map((name) => sandbox.writeNodeConfig(name, [`include = ${nothing}`]))));
  const [again2, again3] = [hostileClient(configs[1]), hostileClient(configs[2])];
  t.after(() => { again2.close(); again3.close(); });
  const node2Again = await restoredChunks(again2, codec);
  assert.deepEqual([...node2Again.codecs], ['raw']);
  assert.ok(node2Again.bytes.equals(bytes));
  const node3Again = await restoredChunks(again3, codec);
  assert.deepEqual([...node3Again.codecs], ['zstd']);
  assert.ok(node3Again.bytes.equals(bytes));

  // node2 gives its backup up: its own copy's space is freed by the next collection.
  const beforeDelete = await packBytes(packs);
  const deleted2 = await sandbox.runClient(['-c', configs[1], '-d', '1', '--force']);
  assert.equal(deleted2.code, 0, deleted2.stdout + deleted2.stderr);
  await sandbox.runningServer!.stop();
  assert.equal((await sandbox.runServerCommand(['gc'])).code, 0);
  const freed = beforeDelete - await packBytes(packs);
  assert.ok(freed >= bytes.length, `the own copy's ${bytes.length} bytes are freed (${freed} were)`);
  const finalCheck = await sandbox.runServerCommand(['check', '--read-data']);
  assert.equal(finalCheck.code, 0, finalCheck.stdout + finalCheck.stderr);
});

test('a compaction carries a client\'s own copies on: a pack of them and of chunks gone since is rewritten, and its restores still read its own encoding', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1', 'node2'] });
  t.after(() => sandbox.destroy());
  // Small packs, so that one holds node2's own copies beside the new chunks its first backup stored.
  await sandbox.rewriteServerConfig(['pack_size = 1M']);
  await sandbox.startServer();
  const nothing = join(sandbox.root, 'nothing');
  await mkdir(nothing);
  const config1 = await sandbox.writeNodeConfig('node1', [`include = ${nothing}`]);
  const config2 = await sandbox.writeNodeConfig('node2', [`include = ${nothing}`]);
  const [node1, node2] = [hostileClient(config1), hostileClient(config2)];
  t.after(() => { node1.close(); node2.close(); });
  const codec = new ChunkCodec(3);
  const shared = compressibleBytes();
  await committed(node1, upload(shared, '/data/shared.txt', (raw) => codec.encode(raw)));

  // node2's first backup: the shared bytes raw (own copies), each chunk between two chunks of a file of its own.
  const sharedChunks = Array.from({ length: CHUNKS }, (_, index) => shared.subarray(index * CHUNK_SIZE, (index + 1) * CHUNK_SIZE));
  const passing = randomBytes(2 * CHUNKS * CHUNK_SIZE);
  const passingChunks = Array.from({ length: 2 * CHUNKS }, (_, index) => passing.subarray(index * CHUNK_SIZE, (index + 1) * CHUNK_SIZE));
  const interleaved = sharedChunks.flatMap((chunk, index) => [passingChunks[2 * index], chunk, passingChunks[2 * index + 1]]);
  const messages: UploadRequest[] = [begin];
  for (let index = 0; index < interleaved.length; index += 6) {
    messages.push({ message: { $case: 'chunks', value: { chunks: interleaved.slice(index, index + 6).map((chunk) => ({ hash: sha256(chunk), rawSize: chunk.length, codec: Codec.Raw, payload: chunk })) } } });
  }
  const entryOf = (path: string, chunks: Buffer[]): ReturnType<typeof batchedEntry> => batchedEntry(meta(path, EntryType.ENTRY_TYPE_FILE, { size: chunks.reduce((sum, chunk) => sum + chunk.length, 0) }),
    { chunkHashes: Buffer.concat(chunks.map(sha256)) });
  messages.push({ message: { $case: 'batch', value: { entries: [entryOf('/data/copy.txt', sharedChunks), entryOf('/data/passing.bin', passingChunks)] } } }, commit);
  await committed(node2, messages);
  // Its second backup keeps the copy only (chunks it holds: named, not sent).
  await committed(node2, [begin, { message: { $case: 'batch', value: { entries: [entryOf('/data/copy.txt', sharedChunks)] } } }, commit]);
  assert.deepEqual([...(await restoredChunks(node2, codec)).codecs], ['raw']);

  await sandbox.runningServer!.stop();
  const before = ownCopyPacks(sandbox);
  assert.equal(before.copies, CHUNKS, 'node2 keeps an own copy of each shared chunk');
  await sandbox.startServer();
  const deleted = await sandbox.runClient(['-c', await sandbox.writeNodeConfig('node2', [`include = ${nothing}`]), '-d', '1']);
  assert.equal(deleted.code, 0, deleted.stdout + deleted.stderr);
  await sandbox.runningServer!.stop();
  const collected = await sandbox.runServerCommand(['gc']);
  assert.equal(collected.code, 0, collected.stdout + collected.stderr);
  const after = ownCopyPacks(sandbox);
  assert.equal(after.copies, CHUNKS, 'every own copy is still there');
  assert.ok(before.packs.every((pack) => !after.packs.includes(pack)), `the own copies moved out of packs ${before.packs.join(', ')} (now in ${after.packs.join(', ')})`);
  const checked = await sandbox.runServerCommand(['check', '--read-data']);
  assert.equal(checked.code, 0, checked.stdout + checked.stderr);
  await sandbox.startServer();
  const again = hostileClient(await sandbox.writeNodeConfig('node2', [`include = ${nothing}`]));
  t.after(() => again.close());
  const restore = await restoredChunks(again, codec);
  assert.deepEqual([...restore.codecs], ['raw'], 'its own copies, moved by the compaction');
  assert.ok(restore.bytes.equals(shared));
});

test('check --read-data drops an own copy that does not read back, and says so; the client\'s restores then read the shared copy', async (t) => {
  const { sandbox, nothing, clients: [node1, node2] } = await serverWithNodes(t, ['node1', 'node2']);
  const codec = new ChunkCodec(3);
  const bytes = compressibleBytes();
  await committed(node1, upload(bytes, '/data/shared.txt', (raw) => codec.encode(raw)));
  await committed(node2, upload(bytes, '/data/copy.txt', (chunk) => ({ codec: Codec.Raw, payload: chunk })));
  await sandbox.runningServer!.stop();

  await damageRecord(sandbox, `SELECT p.name, cc.offset FROM client_chunks cc JOIN packs p ON p.id = cc.pack_id WHERE cc.pack_id IS NOT NULL
    ORDER BY cc.offset LIMIT 1`);

  const checked = await sandbox.runServerCommand(['check', '--read-data']);
  assert.notEqual(checked.code, 0, checked.stdout + checked.stderr);
  assert.match(checked.stdout + checked.stderr, /client node2's own copy of chunk [0-9a-f]{64} in pack \S+ at offset \d+ is damaged \(.*\): dropped, its restores read the shared copy/);
  await sandbox.startServer();
  const again = hostileClient(await sandbox.writeNodeConfig('node2', [`include = ${nothing}`]));
  t.after(() => again.close());
  const restore = await restoredChunks(again, codec);
  assert.ok(restore.bytes.equals(bytes), 'every byte back: the damaged copy was not the only one');
  assert.ok(restore.codecs.has('zstd'), 'the dropped copy\'s chunk comes from the shared copy');
});

test('with chunking on the server: bytes another client stored raw are kept in the store\'s own encoding for a client that streams them', async (t) => {
  const { clients: [node1, node2] } = await serverWithNodes(t, ['node1', 'node2']);
  const codec = new ChunkCodec(3);
  const bytes = compressibleBytes();
  // node1 cuts the bytes as the store does and sends every chunk raw.
  const chunker = createFastCdcFactory(DEFAULT_CHUNKER_PARAMS).create();
  const chunks = [...chunker.push(bytes), ...chunker.finish()].map((chunk) => Buffer.from(chunk));
  assert.ok(chunks.length > 4, `${chunks.length} chunks`);
  await committed(node1, [begin,
    { message: { $case: 'chunks', value: { chunks: chunks.map((chunk) => ({ hash: sha256(chunk), rawSize: chunk.length, codec: Codec.Raw, payload: chunk })) } } },
    { message: { $case: 'batch', value: { entries: [batchedEntry(meta('/data/raw.txt', EntryType.ENTRY_TYPE_FILE, { size: bytes.length }), { chunkHashes: Buffer.concat(chunks.map(sha256)) })] } } },
    commit]);
  // node2 streams the same bytes; the server cuts and encodes them (zstd).
  const streamed: UploadRequest[] = [begin,
    { message: { $case: 'entry', value: { meta: meta('/data/streamed.txt', EntryType.ENTRY_TYPE_FILE, { size: bytes.length }), sameAsParent: false } } }];
  for (let offset = 0; offset < bytes.length; offset += 1024 * KIB) streamed.push({ message: { $case: 'data', value: { chunk: bytes.subarray(offset, offset + 1024 * KIB) } } });
  streamed.push({ message: { $case: 'entryEnd', value: { sha256: sha256(bytes), size: bytes.length, damage: '' } } }, commit);
  await committed(node2, streamed);
  const restore = await restoredChunks(node2, codec);
  assert.deepEqual([...restore.codecs], ['zstd'], 'the store\'s encoding of what node2 sent, not node1\'s raw copy');
  assert.ok(restore.bytes.equals(bytes));
  assert.deepEqual([...(await restoredChunks(node1, codec)).codecs], ['raw']);
});

// Regression (review of 527dd34): the damage of a shared copy counted for every file holding the chunk,
// so `check --repair` removed a file its client restores whole from its own copy (and GC then freed that
// copy). A damaged row is healed by the next copy of its bytes in any encoding (a second review: healed
// only by the same payload, it could stay damaged for good once clients encode otherwise).
test('a damaged shared copy: check heals it from another client\'s own copy, in the store\'s encoding; both files stay whole; later copies change nothing', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1', 'node2'] });
  t.after(() => sandbox.destroy());
  await sandbox.startServer();
  const nothing = join(sandbox.root, 'nothing');
  await mkdir(nothing);
  const configs = await Promise.all(['node1', 'node2'].map((name) => sandbox.writeNodeConfig(name, [`include = ${nothing}`])));
  const [node1, node2] = configs.map((config) => hostileClient(config));
  t.after(() => { node1.close(); node2.close(); });
  const codec = new ChunkCodec(3);
  const bytes = compressibleBytes();
  const zstd = (raw: Buffer): { codec: number; payload: Buffer } => codec.encode(raw);
  const raw = (chunk: Buffer): { codec: number; payload: Buffer } => ({ codec: Codec.Raw, payload: chunk });
  await committed(node1, upload(bytes, '/data/shared.txt', zstd));
  await committed(node2, upload(bytes, '/data/copy.txt', raw));
  await sandbox.runningServer!.stop();

  // Bytes of node1's (the shared) copy of a chunk overwritten.
  await damageRecord(sandbox, `SELECT p.name, ch.offset FROM chunks ch JOIN packs p ON p.id = ch.pack_id ORDER BY ch.id LIMIT 1`);

  // node2's own copy holds the same bytes: check stores them again (in the store's encoding, not node2's) and the shared
  // row heals at once (red team F9: before, check --repair took node1's file out although the store held its bytes).
  const checked = await sandbox.runServerCommand(['check', '--read-data']);
  const output = checked.stdout + checked.stderr;
  assert.equal(checked.code, 0, output);
  assert.match(checked.stdout, /^healed: chunk [0-9a-f]+ in pack .* stored again from client node2's own copy in pack .* \(its bytes, in the store's encoding\)/m);
  assert.doesNotMatch(output, /\/data\/(shared|copy)\.txt/, 'no file is damaged');
  const repaired = await sandbox.runServerCommand(['check', '--repair']);
  const repairOutput = repaired.stdout + repaired.stderr;
  assert.equal(repaired.code, 0, repairOutput);
  assert.doesNotMatch(repairOutput, /^removed: /m, 'nothing removed');

  await sandbox.startServer();
  const fresh = await Promise.all(['node1', 'node2'].map((name) => sandbox.writeNodeConfig(name, [`include = ${nothing}`])));
  const [again1, again2] = fresh.map((config) => hostileClient(config));
  t.after(() => { again1.close(); again2.close(); });
  const node2Restore = await restoredChunks(again2, codec);
  assert.deepEqual([...node2Restore.codecs], ['raw']);
  assert.ok(node2Restore.bytes.equals(bytes), 'node2\'s file whole after the repair');
  // node2 sends the bytes again, raw: the healed row stays as the store encoded it, node2 keeps its own copy;
  // node1 sends them as it did, the store's encoding: it reads the shared row, as before the damage.
  await committed(again2, upload(bytes, '/data/copy-again.txt', raw));
  await committed(again1, upload(bytes, '/data/shared-again.txt', zstd));
  const node1Restore = await restoredChunks(again1, codec);
  assert.deepEqual([...node1Restore.codecs], ['zstd'], 'node1 reads its own encoding again');
  assert.ok(node1Restore.bytes.equals(bytes));
  await sandbox.runningServer!.stop();
  const final = await sandbox.runServerCommand(['check', '--read-data']);
  assert.equal(final.code, 0, final.stdout + final.stderr);
});
