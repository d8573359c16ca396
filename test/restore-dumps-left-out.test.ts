// A restore that asks for the dumps to be left out (a receiver's files) must not trust a server that
// ignores the request: an older one sends every dump as a file, which would land under receive_to. The
// client needs the server's word (skipping_fifo_content) before the first entry, and yields nothing
// without it, and stops at a dump sent all the same; an ordinary restore neither needs nor accepts that word.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, type BackupSummary, type RestoreResponse } from '../src/proto/cpsbackup';
import { ProtocolError } from '../src/common/errors';
import { batchedEntry } from '../src/common/wire/batched-entry';
import { restoreMessageItems } from '../src/client/restore-messages';
import { ChunkDecoderPool } from '../src/client/restore-decoding/chunk-decoder-pool';
import { meta } from './support/hostile-client';

const summary = { backupId: 1 } as BackupSummary;
const header: RestoreResponse = { message: { $case: 'backup', value: summary } };
const saysSkipping: RestoreResponse = { message: { $case: 'skippingFifoContent', value: true } };
const folder: RestoreResponse = { message: { $case: 'batch', value: { entries: [batchedEntry(meta('/srv', EntryType.ENTRY_TYPE_DIRECTORY), {})] } } };
const loneFolder: RestoreResponse = { message: { $case: 'entry', value: meta('/srv', EntryType.ENTRY_TYPE_DIRECTORY) } };

async function* stream(messages: readonly RestoreResponse[]): AsyncGenerator<RestoreResponse> {
  yield* messages;
}

/** The paths yielded before the stream ended, and how it ended. */
async function read(messages: readonly RestoreResponse[], isSkippingDumps: boolean): Promise<{ paths: string[]; error?: unknown }> {
  const decoder = new ChunkDecoderPool(1);
  const paths: string[] = [];
  try {
    for await (const item of restoreMessageItems(stream(messages), () => undefined, decoder, isSkippingDumps)) paths.push(item.meta.path.toString());
    return { paths };
  } catch (error) {
    return { paths, error };
  } finally {
    await decoder.close();
  }
}

test('asked to leave the dumps out, a server that does not say it does gets nothing written', async () => {
  for (const messages of [[header, folder], [header, loneFolder], [header]]) {
    const { paths, error } = await read(messages, true);
    assert.deepEqual(paths, []);
    assert.ok(error instanceof ProtocolError, String(error));
    assert.match(error.message, /the server does not leave the dumps out of a restore \(it is older than this client\): nothing restored/);
  }
});

test('a dump sent all the same after the server said it leaves them out stops the restore before it is written', async () => {
  // What a dump's entry carries where a walked FIFO has its inode, device and ctime (common/dump-entry.ts).
  const dump = meta('/srv/dump', EntryType.ENTRY_TYPE_FIFO_CONTENT, { inode: 0, device: 0, ctimeSec: 0, ctimeNsec: 0 });
  for (const sent of [
    { message: { $case: 'batch', value: { entries: [batchedEntry(dump, {})] } } },
    { message: { $case: 'entry', value: dump } },
  ] as RestoreResponse[]) {
    const { paths, error } = await read([header, saysSkipping, folder, sent], true);
    assert.deepEqual(paths, ['/srv']);
    assert.ok(error instanceof ProtocolError && /sent the dump \/srv\/dump although asked to leave the dumps out/.test(error.message), String(error));
  }
});

test('a FIFO read with read_all_fifos is a file, not a dump: it passes after the server said it leaves the dumps out', async () => {
  const readFifo = meta('/srv/piped', EntryType.ENTRY_TYPE_FIFO_CONTENT);
  const sent: RestoreResponse = { message: { $case: 'batch', value: { entries: [batchedEntry(readFifo, {})] } } };
  assert.deepEqual(await read([header, saysSkipping, folder, sent], true), { paths: ['/srv', '/srv/piped'] });
});

test('a server that says so is read as usual; a restore that did not ask refuses the word', async () => {
  assert.deepEqual(await read([header, saysSkipping, folder], true), { paths: ['/srv'] });
  assert.deepEqual(await read([header, folder], false), { paths: ['/srv'] });
  const { error } = await read([header, saysSkipping, folder], false);
  assert.ok(error instanceof ProtocolError && /unexpected skipping_fifo_content/.test(error.message), String(error));
});

// Regression (review): entries sent before the backup header were written, and the restore failed only
// at its end for the missing header, keeping them.
test('nothing is yielded before the backup header, and a second header is refused', async () => {
  for (const messages of [[folder, header], [loneFolder, header], [folder]]) {
    const { paths, error } = await read(messages, false);
    assert.deepEqual(paths, []);
    assert.ok(error instanceof ProtocolError, String(error));
    assert.match(error.message, /the server sent (batch|entry) before its backup header: nothing restored/);
  }
  const { paths, error } = await read([header, folder, header, folder], false);
  assert.deepEqual(paths, ['/srv']);
  assert.match(String(error), /a second backup header/);
});
