// check against a catalog that disagrees with itself: a chunk row gone, a content row gone, entries of a
// backup that no longer exists. Each is named, the files it breaks are listed, and the exit code is 1;
// an unreferenced content is reported as garbage for the next gc, not as damage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Sandbox } from './support/sandbox';
import { writeDeterministicFile } from './support/trees';
import { assertCheckClean, backupNow, runCheck } from './support/fault-tools';

test('check names missing chunk and content rows, the files they break, and orphan entries', async () => {
  const sandbox = await Sandbox.create({ serverLines: ['chunk_min_size = 16384', 'chunk_avg_size = 65536', 'chunk_max_size = 262144'] });
  try {
    const data = join(sandbox.root, 'data');
    await writeDeterministicFile(join(data, 'lost-chunk.bin'), 'lost-chunk', 1024 * 1024);
    await writeDeterministicFile(join(data, 'lost-content.bin'), 'lost-content', 300_000);
    await writeFile(join(data, 'fine.txt'), 'untouched\n');
    await sandbox.startServer();
    const configFile = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
    const backup = await backupNow(sandbox, configFile, data);
    await sandbox.runningServer!.stop();
    await assertCheckClean(sandbox);

    const database = new Database(join(sandbox.storeDirectory, 'catalog.db'));
    let lostChunkContent: number;
    let lostContent: number;
    try {
      const contentOf = database.prepare(`SELECT content_id FROM entries WHERE path = ?`).pluck();
      lostChunkContent = contentOf.get(Buffer.from(join(data, 'lost-chunk.bin'))) as number;
      lostContent = contentOf.get(Buffer.from(join(data, 'lost-content.bin'))) as number;
      database.prepare(`DELETE FROM chunks WHERE id = (SELECT chunk_id FROM content_chunks WHERE content_id = ? AND seq = 1)`).run(lostChunkContent);
      database.prepare(`DELETE FROM contents WHERE id = ?`).run(lostContent);
      // An entry dropped behind the catalog's back leaves its content counted once too often: check says so.
      database.prepare(`DELETE FROM entries WHERE path = ?`).run(Buffer.from(join(data, 'fine.txt')));
      database.prepare(`INSERT INTO entries (backup_id, path, type, mode, uid, gid, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec, inode, device, size)
                        VALUES (999, CAST('/ghost' AS BLOB), 2, 493, 0, 0, 0, 0, 0, 0, 0, 0, 0)`).run();
    } finally {
      database.close();
    }

    const result = await runCheck(sandbox, []);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    const lines = result.stdout.split('\n');
    assert.ok(lines.includes(`damaged content ${lostContent}: content row is missing from the catalog`), result.stdout);
    assert.ok(lines.some((line) => new RegExp(`^damaged content ${lostChunkContent}: 1 of its \\d+ chunks are missing from the catalog$`).test(line)), result.stdout);
    const affected = lines.filter((line) => line.startsWith('affected file:')).sort();
    const name = String(backup.number).padStart(7, '0');
    assert.deepEqual(affected, [
      `affected file: client node1 backup ${name} ${join(data, 'lost-chunk.bin')}`,
      `affected file: client node1 backup ${name} ${join(data, 'lost-content.bin')}`,
    ]);
    assert.ok(lines.some((line) => /^problem: orphan rows: entries of missing backups \(ids 999\)$/.test(line)), result.stdout);
    assert.ok(lines.some((line) => /^problem: orphan rows: chunk lists of missing contents/.test(line)), result.stdout);
    assert.ok(lines.some((line) => /^problem: reference counts of contents do not match their entries \(ids \d+\)$/.test(line)), result.stdout);
    assert.ok(!result.stdout.includes('fine.txt'));
  } finally {
    await sandbox.destroy();
  }
});
