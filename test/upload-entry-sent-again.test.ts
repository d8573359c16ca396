// A file the client streams for the server to chunk and then finds cut shorter while reading it: it ends
// the entry with the damage (the server drops what arrived) and sends the file again, read anew, under
// the same path (entry-sender-shrink.test.ts). The server takes the second entry; the backup holds it,
// and nothing of the first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import { EntryType, type UploadRequest } from '../src/proto/cpsbackup';
import { begin, commit, entryMessage, fileMessages, hostileClient, meta, sendUpload } from './support/hostile-client';

const MIB = 1024 * 1024;

test('an entry dropped with its damage and sent again under the same path is the one the backup holds', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  await sandbox.startServer();
  const nothing = join(sandbox.root, 'nothing');
  await mkdir(nothing);
  const config = await sandbox.writeNodeConfig('node1', [`include = ${nothing}`]);
  const client = hostileClient(config);
  t.after(() => client.close());
  const first = randomBytes(2 * MIB);
  const second = randomBytes(1000);
  const messages: UploadRequest[] = [begin,
    entryMessage(meta('/data', EntryType.ENTRY_TYPE_DIRECTORY)),
    entryMessage(meta('/data/app.log', EntryType.ENTRY_TYPE_FILE, { size: first.length })),
    { message: { $case: 'data', value: { chunk: first.subarray(0, MIB) } } },
    { message: { $case: 'entryEnd', value: { sha256: Buffer.alloc(0), size: MIB, damage: 'cannot be read: it shrank while it was read' } } },
    ...fileMessages('/data/app.log', second),
    commit];
  const outcome = await sendUpload(client, messages);
  assert.equal(outcome.error, undefined, outcome.error?.details);
  assert.ok(outcome.responses.some((response) => response.message?.$case === 'committed'), 'the upload committed');

  const target = join(sandbox.root, 'restored');
  const restored = await sandbox.runClient(['-c', config, '-i', '1', '--to', target]);
  assert.equal(restored.code, 0, restored.stdout + restored.stderr);
  const content = await readFile(join(target, 'data', 'app.log'));
  assert.equal(createHash('sha256').update(content).digest('hex'), createHash('sha256').update(second).digest('hex'), 'the second entry\'s content');
});
