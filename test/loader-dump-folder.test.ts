// Regression (security review): the loaders read each restored dump file, and then removed it and its
// folder, by path, as root, wherever it was restored. A user who could write to a folder on the way chose
// which file was loaded and which file was removed: a symlink planted there made root load a root-only
// file and delete it. A dump's folder must now be root's alone, and every folder above it; otherwise the
// dump is kept and not loaded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lchownSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadRestoredDumps } from '../src/client/sources/loaders';
import { storageConfigFromText } from '../src/client/sources/storage-config';
import { failOpenatOf } from './support/failing-openat';
import { exists, withTempFolder } from './support/temp-folder';

const NOBODY = 65534;

function commandSource(output: string): ReturnType<typeof storageConfigFromText> {
  return storageConfigFromText('storage.conf', ['source = app', 'kind = command', 'dump = true', `load = cat > '${output}'`].join('\n'));
}

test('a dump in a folder others may write to is kept and not loaded; one in a private folder loads and goes', async () => {
  await withTempFolder('cpsbackup-dump-folder-', async (folder) => {
    const output = join(folder, 'loaded');
    const shared = join(folder, 'shared');
    const path = join(shared, 'dumps', 'app', 'dump');
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, 'the dump');
    // Others may write to the dump's own folder, or replace a folder above it.
    for (const [writable, reason] of [[join(path, '..'), /app may be written to by others \(mode 777\)/], [shared, /lies below .*\/shared, where/]] as const) {
      await chmod(writable, 0o777);
      const [refused] = await loadRestoredDumps(commandSource(output), [{ path, sourceName: 'app' }]);
      assert.equal(refused.ok, false);
      assert.match(refused.error ?? '', /^not loaded: the dump's folder: .*; file kept$/);
      assert.match(refused.error ?? '', reason);
      assert.equal(await exists(output), false, 'the load command did not run');
      assert.equal(await readFile(path, 'utf8'), 'the dump', 'the dump file is kept');
      await chmod(writable, 0o755);
    }

    const [loaded] = await loadRestoredDumps(commandSource(output), [{ path, sourceName: 'app' }]);
    assert.ok(loaded.ok, loaded.error);
    assert.equal(await readFile(output, 'utf8'), 'the dump');
    assert.equal(await exists(join(path, '..')), false, 'the dump and its emptied folder are removed');
  });
});

test('a symlink another user planted on the way to a dump is not followed: the file it leads to is neither loaded nor removed', {
  skip: process.geteuid?.() === 0 ? undefined : 'needs root (a folder and a symlink of another user)',
}, async () => {
  await withTempFolder('cpsbackup-dump-folder-', async (folder) => {
    await chmod(folder, 0o755);
    const output = join(folder, 'loaded');
    const restored = join(folder, 'restored');
    const victim = join(folder, 'victim');
    await mkdir(restored);
    await chown(restored, NOBODY, NOBODY);
    await mkdir(join(victim, 'app'), { recursive: true, mode: 0o700 });
    await writeFile(join(victim, 'app', 'dump'), 'root only');
    // The user who owns `restored` swapped its dumps folder for a symlink to a root-only folder.
    await symlink(victim, join(restored, 'dumps'));
    lchownSync(join(restored, 'dumps'), NOBODY, NOBODY);
    const [result] = await loadRestoredDumps(commandSource(output), [{ path: join(restored, 'dumps', 'app', 'dump'), sourceName: 'app' }]);
    assert.equal(result.ok, false);
    assert.match(result.error ?? '', /^not loaded: the dump's folder: .*not followed/);
    assert.equal(await exists(output), false, 'nothing loaded from the root-only file');
    assert.equal(await readFile(join(victim, 'app', 'dump'), 'utf8'), 'root only', 'the root-only file is not removed');
  });
});

// Regression (review): the check let a load go ahead by path when it failed for another reason than an
// untrusted folder (EACCES of root on an NFS mount with root_squash, ELOOP, a folder gone at the check
// and back at the load): nothing had been checked, and root loaded and removed by path. Such a dump is
// now kept and not loaded, the reason named. The addon's openat fails the check's walk into the folder
// (failOpenatOf), which the load itself, by path through Node's fs, does not use.
for (const code of ['EACCES', 'ELOOP', 'ENOENT']) {
  test(`a dump whose folder cannot be checked (${code}) is kept and not loaded, the reason named`, async (t) => {
    await withTempFolder('cpsbackup-dump-folder-', async (folder) => {
      const output = join(folder, 'loaded');
      const path = join(folder, 'dumps', 'app', 'dump');
      await mkdir(join(path, '..'), { recursive: true, mode: 0o700 });
      await writeFile(path, 'the dump');
      failOpenatOf(t, 'app', code);
      const [refused] = await loadRestoredDumps(commandSource(output), [{ path, sourceName: 'app' }]);
      assert.equal(refused.ok, false, 'a dump whose folder was not checked is not loaded');
      assert.match(refused.error ?? '', new RegExp(`^not loaded: the dump's folder: .*/dumps/app could not be checked \\(${code}: .*; file kept$`));
      assert.equal(await exists(output), false, 'the load command did not run');
      assert.equal(await readFile(path, 'utf8'), 'the dump', 'the dump file is kept');
    });
  });
}
