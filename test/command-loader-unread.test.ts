// Regression: a command source's load that exited 0 counted as loaded whatever it did with the dump
// on its stdin, so a load command that never read it (a script that ignores stdin, `psql db -c …`)
// or stopped half-way made `-i --load` report the source loaded and exit 0. How much the loader read
// is now checked against the dump's size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadRestoredDumps } from '../src/client/sources/loaders';
import { storageConfigFromText } from '../src/client/sources/storage-config';
import { withTempFolder } from './support/temp-folder';

const DUMP = 'x'.repeat(200_000);

async function loadWith(folder: string, load: string): Promise<{ ok: boolean; error?: string }> {
  const config = storageConfigFromText('storage.conf', ['source = app', 'kind = command', 'dump = true', `load = ${load}`].join('\n'));
  const path = join(folder, 'dumps', 'app', 'dump');
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, DUMP);
  const [result] = await loadRestoredDumps(config, [{ path, sourceName: 'app' }]);
  return result;
}

test('a load command that exits 0 without reading its stdin, or reading part of it, is a failed load naming what it read', async () => {
  await withTempFolder('cpsbackup-loader-unread-', async (folder) => {
    const none = await loadWith(folder, 'true');
    assert.equal(none.ok, false, 'a loader that read nothing counted as loaded');
    assert.match(none.error ?? '', /load app: loader exited 0 but read none of the 200000 bytes of .*dump on its stdin: the dump was not loaded whole/);
    const part = await loadWith(folder, `head -c 1000 > '${join(folder, 'head')}'`);
    assert.equal(part.ok, false, 'a loader that read 1000 of 200000 bytes counted as loaded');
    assert.match(part.error ?? '', /read only \d+ of the 200000 bytes/);
  });
});

test('a load command that reads its stdin to the end, in one read or many, or reads an empty dump, is loaded', async () => {
  await withTempFolder('cpsbackup-loader-unread-', async (folder) => {
    const whole = join(folder, 'whole');
    assert.deepEqual(await loadWith(folder, `cat > '${whole}'`), { sourceName: 'app', path: join(folder, 'dumps', 'app', 'dump'), ok: true });
    assert.equal(await readFile(whole, 'utf8'), DUMP);
    const slow = await loadWith(folder, 'dd bs=1000 of=/dev/null status=none');
    assert.equal(slow.ok, true, slow.error);
    const config = storageConfigFromText('storage.conf', ['source = app', 'kind = command', 'dump = true', 'load = true'].join('\n'));
    const empty = join(folder, 'empty');
    await writeFile(empty, '');
    const [result] = await loadRestoredDumps(config, [{ path: empty, sourceName: 'app' }]);
    assert.equal(result.ok, true, result.error);
  });
});
