// Regression: a load read whatever its dump's path held when it ran. Beside a backup, the dumper wrote the live
// database over the start of the restored dump ("LIVE-73\nME" where the backup had "RESTORE-ME", the same size),
// and that mixture was loaded, exit 0. Now the restore records the file it wrote and checked (inode, size,
// SHA-256 of its bytes) and the load refuses a path that holds anything else, keeping the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadRestoredDumps, type RestoredDump } from '../src/client/sources/loaders';
import { storageConfigFromText } from '../src/client/sources/storage-config';
import { withTempFolder } from './support/temp-folder';

const RESTORED = 'RESTORE-ME\n';

/** The restored dump as the restore wrote it, and what the load is handed (typed loosely: it guards a version without `written`). */
async function restoredDump(folder: string): Promise<{ path: string; dump: RestoredDump }> {
  const path = join(folder, 'dumps', 'app', 'dump');
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, RESTORED, { mode: 0o600 });
  const stats = await stat(path, { bigint: true });
  const written = { dev: stats.dev, ino: stats.ino, size: RESTORED.length, sha256: createHash('sha256').update(RESTORED).digest('hex') };
  return { path, dump: { path, sourceName: 'app', written } as RestoredDump };
}

function storage(database: string): ReturnType<typeof storageConfigFromText> {
  return storageConfigFromText('storage.conf', ['source = app', 'kind = command', 'dump = true', `load = cat > '${database}'`].join('\n'));
}

test('a dump changed in place, renamed over or resized after the restore wrote it is not loaded; the file is kept', async () => {
  await withTempFolder('cpsbackup-load-written-', async (folder) => {
    const database = join(folder, 'database.txt');
    const changes: [string, (path: string) => Promise<void>, RegExp][] = [
      ['written over in place, same size', (path) => writeFile(path, 'LIVE-73\nME\n', { flag: 'r+' }), /its content changed since the restore wrote and checked it/],
      ['renamed over', async (path) => { await writeFile(`${path}.tmp`, RESTORED); await rename(`${path}.tmp`, path); }, /another file has taken its name/],
      ['grown', (path) => writeFile(path, 'more\n', { flag: 'a' }), /its size changed from 11 to 16 bytes/],
    ];
    for (const [what, change, reason] of changes) {
      await writeFile(database, 'LIVE\n');
      const { path, dump } = await restoredDump(folder);
      await change(path);
      const kept = await readFile(path, 'utf8');
      const [result] = await loadRestoredDumps(storage(database), [dump]);
      assert.equal(result.ok, false, `${what}: loaded`);
      assert.match(result.error ?? '', new RegExp(`not loaded: \\S+dump is not the dump this restore wrote and checked: ${reason.source}`), what);
      assert.equal(await readFile(database, 'utf8'), 'LIVE\n', `${what}: the loader ran`);
      assert.equal(await readFile(path, 'utf8'), kept, `${what}: the file was not kept`);
    }
    const { path, dump } = await restoredDump(folder);
    const [result] = await loadRestoredDumps(storage(database), [dump]);
    assert.equal(result.ok, true, result.error);
    assert.equal(await readFile(database, 'utf8'), RESTORED);
    await assert.rejects(stat(path), { code: 'ENOENT' });
  });
});
