// A client's quota usage, and so the hard_quota refusal, is the same whether or not another client
// holds the bytes it backs up: it is charged its own copy of every chunk, whoever stored it first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { EntryType, BackupClient, type UploadRequest } from '../src/proto/cpsbackup';
import { batchedEntry } from '../src/common/wire/batched-entry';
import { channelOptions, clientCredentials } from '../src/common/tls/credentials';
import { ChunkCodec } from '../src/chunkstore/codec';
import { begin, commit, meta, sendUpload } from './support/hostile-client';
import { startInProcessServer } from './support/in-process-server';

function sha256(bytes: Buffer): Buffer {
  return createHash('sha256').update(bytes).digest();
}

const abort: UploadRequest = { message: { $case: 'abort', value: { reason: 'probe' } } };

/** One file of the given bytes, as the client's chunk (codec 0 raw, 1 zstd) or inline for the server to chunk. */
function uploadOf(bytes: Buffer, way: 'raw chunk' | 'zstd chunk' | 'inline'): UploadRequest[] {
  const entry = (content: { chunkHashes: Buffer } | { content: Buffer }): UploadRequest =>
    ({ message: { $case: 'batch', value: { entries: [batchedEntry(meta('/guess.bin', EntryType.ENTRY_TYPE_FILE, { size: bytes.length }), content)] } } });
  if (way === 'inline') return [begin, entry({ content: bytes }), commit];
  const codec = way === 'raw chunk' ? 0 : 1;
  const payload = codec === 0 ? bytes : new ChunkCodec(3).encode(bytes).payload;
  return [begin, { message: { $case: 'chunks', value: { chunks: [{ hash: sha256(bytes), rawSize: bytes.length, codec, payload }] } } },
    entry({ chunkHashes: sha256(bytes) }), commit];
}

// Regression (issue 18): usage charged a chunk several clients held its stored size divided by their
// number, and the hard_quota refusal names the usage. A client that backed up guessed bytes read half
// their size when another client had them and the whole when nobody had; near its quota, whether its
// next backup was refused said the same without a figure.
test('a client\'s usage and its hard_quota refusal are the same for bytes another client holds as for bytes nobody has', async (t) => {
  const size = 64 * 1024;
  // At the size of each client's own copy: a client charged its own copy is refused, one charged half of it is not.
  // Room for the chunk and its entry's metadata ('/guess.bin', 10 bytes, in the usage once committed) and a byte:
  // the probe's folder ('/probe-folder', 13 bytes) passes it.
  const quota = size + 10 + 1;
  const harness = await startInProcessServer(['node1', 'node2', 'guess1', 'fresh1', 'guess2', 'fresh2'], [`hard_quota = ${quota}`]);
  t.after(() => harness.stop());
  const clientOf = async (name: string): Promise<BackupClient> => {
    const config = await harness.nodeConfig(name, []);
    const client = new BackupClient(`${config.server}:${config.port}`, clientCredentials(config), channelOptions(config));
    t.after(() => client.close());
    return client;
  };
  const compressible = (seed: string): Buffer => Buffer.from(`${seed}: `.padEnd(64, '.').repeat(size / 64));
  const ways = [
    // node1 stores them compressed; the client sends them raw, its own copy is the whole size.
    // One holder per way: a hard_quota of one chunk stops a backup that would store a second (no backup passes it).
    { holder: 'node1', guesser: 'guess1', fresh: 'fresh1', held: compressible('held'), nobodys: compressible('nobody'), first: 'zstd chunk', second: 'raw chunk' },
    // node2 stores them raw; the client sends them for the server to chunk (random bytes: stored raw, the whole size).
    { holder: 'node2', guesser: 'guess2', fresh: 'fresh2', held: randomBytes(size), nobodys: randomBytes(size), first: 'raw chunk', second: 'inline' },
  ] as const;
  for (const { holder, guesser, fresh, held, nobodys, first, second } of ways) {
    assert.equal(nobodys.length, size);
    const stored = await sendUpload(await clientOf(holder), uploadOf(held, first));
    assert.equal(stored.error, undefined, stored.error?.details);
    const outcomes: string[] = [];
    for (const [name, bytes] of [[guesser, held], [fresh, nobodys]] as const) {
      const client = await clientOf(name);
      const backedUp = await sendUpload(client, uploadOf(bytes, second));
      assert.equal(backedUp.error, undefined, `${name}: ${backedUp.error?.details}`);
      // The next backup, one folder: stopped at hard_quota, naming the usage it began with, or let through.
      const folder: UploadRequest = { message: { $case: 'batch', value: { entries: [batchedEntry(meta('/probe-folder', EntryType.ENTRY_TYPE_DIRECTORY))] } } };
      const probe = await sendUpload(client, [begin, folder, abort]);
      outcomes.push(`${probe.error?.code}: ${probe.error?.details.replaceAll(name, 'CLIENT')}`);
    }
    assert.equal(outcomes[0], outcomes[1], `${second}: the holder's bytes and bytes nobody has must read alike`);
    assert.match(outcomes[1], new RegExp(`stopped: it reached its hard_quota of [\\d.]+ KiB \\(${quota} bytes\\) while storing; with it the client would use [\\d.]+ KiB \\(\\d+ bytes\\) of the store, [\\d.]+ KiB \\(${size + 10} bytes\\) before this backup`), `${second}: its own copy, whole`);
  }
});
