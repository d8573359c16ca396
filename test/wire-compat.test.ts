// Mixed versions: a client facing a server from before EntryBatch sends Entry/Data/EntryEnd per
// file (EntryPerMessage), and a server asked by an older client restores without batches. Both
// go through a real server; the bytes come back exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Sandbox } from './support/sandbox';
import { EntryType, type RestoreResponse, type UploadRequest } from '../src/proto/cpsbackup';
import { EntryPerMessage } from '../src/client/entry-per-message';
import type { UploadStream } from '../src/client/upload-stream';
import { begin, commit, hostileClient, meta, sendUpload } from './support/hostile-client';

const OPTIONS = { timeout: 120_000 };
const NOTHING = Buffer.alloc(0);

test('entries sent one by one (for an older server) commit and restore exactly; an older client restores without batches', OPTIONS, async () => {
  const sandbox = await Sandbox.create({ clients: ['node1'] });
  let client: grpc.Client | undefined;
  try {
    await sandbox.startServer();
    const configFile = await sandbox.writeNodeConfig('node1', [`include = ${join(sandbox.root, 'nothing')}`]);
    const backupClient = hostileClient(configFile);
    client = backupClient;
    const small = randomBytes(10_000);
    const text = Buffer.from('hello, older server\n');
    const sent: UploadRequest[] = [];
    const recorder = { send: async (request: UploadRequest) => { sent.push(request); } } as unknown as UploadStream;
    const perMessage = new EntryPerMessage(recorder);
    await perMessage.add({ meta: meta('/data', EntryType.ENTRY_TYPE_DIRECTORY), sameAsParent: false, content: NOTHING, sha256: NOTHING, chunks: [], chunkHashes: Buffer.alloc(0) });
    await perMessage.add({ meta: meta('/data/small.bin', EntryType.ENTRY_TYPE_FILE, { size: small.length }), sameAsParent: false, content: small, sha256: NOTHING, chunks: [], chunkHashes: Buffer.alloc(0) });
    await perMessage.add({ meta: meta('/data/empty', EntryType.ENTRY_TYPE_FILE), sameAsParent: false, content: NOTHING, sha256: NOTHING, chunks: [], chunkHashes: Buffer.alloc(0) });
    await perMessage.add({ meta: meta('/data/hello.txt', EntryType.ENTRY_TYPE_FILE, { size: text.length }), sameAsParent: false, content: text, sha256: NOTHING, chunks: [], chunkHashes: Buffer.alloc(0) });
    await perMessage.flush();
    assert.ok(sent.every((request) => request.message?.$case !== 'batch'), 'no batch is sent to an older server');
    assert.deepEqual(sent.map((request) => request.message?.$case),
      ['entry', 'entry', 'data', 'entryEnd', 'entry', 'entryEnd', 'entry', 'data', 'entryEnd']);
    const outcome = await sendUpload(backupClient, [begin, ...sent, commit]);
    assert.equal(outcome.error, undefined, outcome.error?.details);

    const target = join(sandbox.root, 'target');
    const restored = await sandbox.runClient(['-c', configFile, '-i', '--to', target]);
    assert.equal(restored.code, 0, restored.stdout + restored.stderr);
    assert.deepEqual(await readFile(join(target, 'data', 'small.bin')), small);
    assert.deepEqual(await readFile(join(target, 'data', 'hello.txt')), text);
    assert.equal((await readFile(join(target, 'data', 'empty'))).length, 0);

    // An older client does not ask for batches: every file comes as Entry, Data, EntryEnd.
    const responses: RestoreResponse[] = [];
    for await (const response of backupClient.restore({ backupId: 0, clientName: '', paths: [], acceptsBatches: false, pathRegex: '', protocolVersion: 0, skipFifoContent: false, strip: 0 }) as AsyncIterable<RestoreResponse>) {
      responses.push(response);
    }
    const cases = responses.map((response) => response.message?.$case);
    assert.ok(!cases.includes('batch'), `restore sent ${cases.join(', ')}`);
    const start = responses.findIndex((response) => response.message?.$case === 'entry' && response.message.value.path.toString() === '/data/small.bin');
    const data = responses.slice(start + 1).filter((response, index, rest) =>
      response.message?.$case === 'data' && rest.slice(0, index).every((earlier) => earlier.message?.$case === 'data'));
    const received = Buffer.concat(data.map((response) => (response.message?.$case === 'data' ? Buffer.from(response.message.value.chunk) : NOTHING)));
    assert.deepEqual(received, small);
    const end = responses[start + 1 + data.length].message;
    assert.ok(end?.$case === 'entryEnd' && Buffer.from(end.value.sha256).equals(createHash('sha256').update(small).digest()));
  } finally {
    client?.close();
    await sandbox.destroy();
  }
});
