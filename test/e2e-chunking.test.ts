// Chunks cut on the client and chunks cut on the server are the same store: the same tree backed up
// each way gives the same contents (catalog rows) and restores byte for byte; a second generation of
// a big file sends little more than what changed; identical data of another client is stored once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Sandbox } from './support/sandbox';
import { writeDeterministicFile } from './support/trees';
import { assertCheckClean, assertRestoresExactly, backupNow } from './support/fault-tools';

const MEBIBYTE = 1024 * 1024;

async function tree(root: string): Promise<void> {
  await mkdir(join(root, 'small'), { recursive: true });
  for (let index = 0; index < 200; index++) await writeFile(join(root, 'small', `note-${index}.txt`), `note ${index}\n`.repeat(50 + index));
  await writeDeterministicFile(join(root, 'big.bin'), 'chunking-big', 24 * MEBIBYTE);
  await writeFile(join(root, 'empty'), '');
}

test('client-side and server-side chunking store the same contents, and both restore exactly', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['cuts', 'sends'] });
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  await tree(data);
  await sandbox.startServer();
  const cuts = await sandbox.writeNodeConfig('cuts', [`include = ${data}`, 'chunking = client']);
  const sends = await sandbox.writeNodeConfig('sends', [`include = ${data}`, 'chunking = server']);
  const cutBackup = await backupNow(sandbox, cuts, data);
  const sentBackup = await backupNow(sandbox, sends, data);
  await assertRestoresExactly(sandbox, cuts, [cutBackup]);
  await assertRestoresExactly(sandbox, sends, [sentBackup]);
  await sandbox.runningServer!.stop();

  const database = new Database(join(sandbox.storeDirectory, 'catalog.db'), { readonly: true });
  try {
    const contentsOf = (client: string): Map<string, number> => new Map((database.prepare(
      `SELECT e.path, e.content_id FROM entries e JOIN backups b ON b.id = e.backup_id JOIN clients c ON c.id = b.client_id
       WHERE c.name = ? AND e.content_id IS NOT NULL`).raw().all(client) as [Buffer, number][]).map(([path, id]) => [path.toString(), id]));
    const cut = contentsOf('cuts');
    const sent = contentsOf('sends');
    assert.equal(cut.size, 202);
    assert.deepEqual([...sent.entries()].sort(), [...cut.entries()].sort(), 'every file points at the very same content either way');
  } finally {
    database.close();
  }
  await assertCheckClean(sandbox);
});

test('a second generation sends about what changed; another client\'s identical data is sent but stored once', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1', 'node2'] });
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  await writeDeterministicFile(join(data, 'dump.sql'), 'generation', 32 * MEBIBYTE);
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const first = await sandbox.runClient(['-c', config, '-e']);
  assert.equal(first.code, 0, first.stderr);
  // 1 % of the dump rewritten in place, in 8 places.
  const handle = await open(join(data, 'dump.sql'), 'r+');
  for (let place = 0; place < 8; place++) await handle.write(Buffer.alloc(40 * 1024, 0x5a), 0, 40 * 1024, place * 4 * MEBIBYTE + 12345);
  await handle.close();
  const second = await sandbox.runClient(['-c', config, '-e']);
  assert.equal(second.code, 0, second.stderr);
  const sent = /sent ([\d.]+) (B|KiB|MiB)/.exec(second.stdout);
  assert.ok(sent, second.stdout);
  const sentBytes = Number(sent[1]) * (sent[2] === 'MiB' ? MEBIBYTE : sent[2] === 'KiB' ? 1024 : 1);
  assert.ok(sentBytes < 8 * MEBIBYTE, `the second generation sent ${sent[0]} for 320 KiB changed:\n${second.stdout}`);

  const otherData = join(sandbox.root, 'other');
  await writeDeterministicFile(join(otherData, 'copy.sql'), 'generation', 32 * MEBIBYTE);
  const other = await sandbox.writeNodeConfig('node2', [`include = ${otherData}`]);
  const packsBefore = await packBytes(sandbox);
  const copy = await sandbox.runClient(['-c', other, '-e']);
  assert.equal(copy.code, 0, copy.stderr);
  assert.match(copy.stdout, /sent 3\d\.\d MiB/, 'node2 may not learn node1 has the data: it sends it all');
  // Nor from its summary: the bytes are new to node2, wherever else the store holds them.
  assert.match(copy.stdout, /stored 32\.0 MiB new/);
  const grown = (await packBytes(sandbox)) - packsBefore;
  assert.ok(grown < MEBIBYTE, `but the store keeps it once: its packs grew by ${grown} bytes`);
});

/** Bytes of every pack file in the store (the packs folder, recursively). */
async function packBytes(sandbox: Sandbox): Promise<number> {
  const files = await readdir(join(sandbox.storeDirectory, 'packs'), { recursive: true, withFileTypes: true });
  let total = 0;
  for (const file of files) if (file.isFile()) total += (await stat(join(file.parentPath, file.name))).size;
  return total;
}
