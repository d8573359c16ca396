// Regression: Show, Diff, Find and Parent cut their batches by count alone (1000, 1000, 500 and 500
// entries), and an entry may carry a path of up to 64 KiB, a 4 KiB link target and extended attributes of
// up to 64 KiB each. 120 files with a 40 KiB attribute each made every one of those answers pass gRPC's
// 4 MiB message cap ("Sent message larger than max"): -s, --diff and --find failed, and so did a Parent
// of full entries. Batches are now cut by bytes too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, type ParentBatch, type UploadRequest } from '../src/proto/cpsbackup';
import { diffBackups, findEntries, showBackup } from '../src/client/catalog-calls';
import { maxMessageBytes } from '../src/common/tls/credentials';
import { begin, commit, entryMessage, fileMessages, hostileClient, meta, sendUpload } from './support/hostile-client';
import { startInProcessServer } from './support/in-process-server';

const FILES = 120;
const ATTRIBUTE = { name: Buffer.from('user.note'), value: Buffer.alloc(40 * 1024, 0x6e) };

function backupOf(mtimeSec: number): UploadRequest[] {
  const files = Array.from({ length: FILES }, (_, index) => fileMessages(`/data/f${String(index).padStart(4, '0')}`, Buffer.from('same content')));
  for (const messages of files) {
    const entry = messages[0].message;
    if (entry?.$case !== 'entry' || entry.value.meta === undefined) throw new Error('fileMessages starts with an entry');
    entry.value.meta.xattrs = [ATTRIBUTE];
    // A second backup differs in each file's mtime only: every file is a change for Diff.
    entry.value.meta.mtimeSec = mtimeSec;
  }
  return [begin, entryMessage(meta('/data', EntryType.ENTRY_TYPE_DIRECTORY)), ...files.flat(), commit];
}

test('Show, Diff, Find and Parent answer entries with large attributes whole, in batches under the message cap', { timeout: 120_000 }, async (t) => {
  const fixture = await startInProcessServer();
  const config = await fixture.nodeConfig('node1', []);
  const client = hostileClient(config.file);
  t.after(async () => { client.close(); await fixture.stop(); });
  for (const mtimeSec of [1_600_000_000, 1_700_000_000]) {
    const outcome = await sendUpload(client, backupOf(mtimeSec));
    assert.equal(outcome.error, undefined, outcome.error?.details);
  }
  const address = `127.0.0.1:${config.port}`;
  let attributeBytes = 0;
  await showBackup(client, address, 1, '', () => undefined, (entry) => { attributeBytes += entry.xattrs.reduce((sum, xattr) => sum + xattr.value.length, 0); });
  assert.ok(attributeBytes > maxMessageBytes, `the attributes of backup 1 take ${attributeBytes} bytes`);

  let changed = 0;
  await diffBackups(client, address, 1, 2, '', (difference) => { changed += difference.changes.includes('mtime') ? 1 : 0; });
  assert.equal(changed, FILES);

  let found = 0;
  await findEntries(client, address, 'f*', '', () => { found++; });
  assert.equal(found, 2 * FILES);

  // Full entries, as an older client asks for them (ours asks only what tells an unchanged file).
  let parentEntries = 0;
  for await (const batch of client.parent({ backupId: 0, unchangedCheckOnly: false, marksDamaged: true }) as AsyncIterable<ParentBatch>) {
    assert.equal(batch.backupId, 2);
    parentEntries += batch.entries.length;
  }
  assert.equal(parentEntries, FILES);
});
