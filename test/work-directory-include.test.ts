// Regression (review): the whole work_directory was skipped by the walk, so an include naming it, or a
// folder holding it, backed up none of the files an operator had put there, and exited 0. Only the
// client's own folders in it (dumps, credentials, receive) are left out now; an include inside one is
// reported (exit 3), at any depth and in any spelling of the work directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';

interface Shown {
  readonly entries: readonly { readonly path: string }[];
}

test('an include that is the work directory, or holds it, backs up what is in it but the client\'s own folders', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  await sandbox.startServer();
  const work = join(sandbox.root, 'work', 'node1');
  const data = join(sandbox.root, 'data');
  await mkdir(join(work, 'kept', 'deeper'), { recursive: true });
  await writeFile(join(work, 'userfile'), 'u');
  await writeFile(join(work, 'kept', 'deeper', 'notes'), 'n');
  for (const own of ['dumps', 'credentials', 'receive']) {
    await mkdir(join(work, own, 'inner'), { recursive: true });
    await writeFile(join(work, own, 'inner', 'secret'), 's');
  }
  await mkdir(data);
  await writeFile(join(data, 'f'), 'f');

  const backedUp = async (lines: string[], workDirectory?: string): Promise<{ code: number | null; stderr: string; paths: string[] }> => {
    const config = await sandbox.writeNodeConfig('node1', lines);
    if (workDirectory !== undefined) {
      await writeFile(config, (await readFile(config, 'utf8')).replace(/^work_directory = .*$/m, `work_directory = ${workDirectory}`));
    }
    const backup = await sandbox.runClient(['-c', config, '-e']);
    const id = /Backup (\d+)/.exec(backup.stdout)?.[1];
    if (id === undefined) return { code: backup.code, stderr: backup.stderr, paths: [] };
    const shown = JSON.parse((await sandbox.runClient(['-c', config, '-s', id, '--json'])).stdout) as Shown;
    return { code: backup.code, stderr: backup.stderr, paths: shown.entries.map((entry) => entry.path) };
  };
  const expectWorkFiles = (paths: string[], label: string): void => {
    assert.ok(paths.includes(join(work, 'userfile')), `${label}: ${paths.join(' ')}`);
    assert.ok(paths.includes(join(work, 'kept', 'deeper', 'notes')), label);
    assert.deepEqual(paths.filter((path) => /\/(dumps|credentials|receive)(\/|$)/.test(path)), [], label);
  };

  for (const include of [work, `${work}/`, join(sandbox.root, 'work'), sandbox.root]) {
    const result = await backedUp([`include = ${include}`]);
    assert.equal(result.code, 0, `${include}: ${result.stderr}`);
    expectWorkFiles(result.paths, include);
  }

  // Through a symlinked spelling of work_directory, its own folders are still left out.
  await symlink(work, join(sandbox.root, 'work-link'));
  const linked = await backedUp([`include = ${join(sandbox.root, 'work')}`], join(sandbox.root, 'work-link'));
  assert.equal(linked.code, 0, linked.stderr);
  expectWorkFiles(linked.paths, 'work link');

  // An include in one of the client's own folders, at any depth: named, not silently left out.
  for (const own of ['dumps', 'credentials', 'receive']) {
    for (const include of [join(work, own), join(work, own, 'inner'), join(work, own, 'inner', 'secret')]) {
      const result = await backedUp([`include = ${data}`, `include = ${include}`]);
      assert.equal(result.code, 3, `${include}: ${result.stderr}`);
      assert.ok(result.stderr.includes(`${include}: not backed up: it is in ${join(work, own)}, where the client keeps its own files`), result.stderr);
      assert.ok(result.paths.includes(join(data, 'f')), include);
      assert.ok(!result.paths.some((path) => path.startsWith(join(work, own))), include);
    }
  }
});
