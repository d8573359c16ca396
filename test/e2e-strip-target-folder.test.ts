// Regression (review): `-i --strip N` mapped the folder of exactly N components (the one the restore is
// taken from, which becomes the target) to nothing, so its mode, owner, xattrs, ACLs and mtime were
// dropped with exit 0: the target stayed the restore's private 0700. A target the restore makes gets it
// now; a target that was there is the operator's folder and stays as it is under every policy (as tar
// leaves it: the review of the fix showed --overwrite giving /home/bob the owner of /home/alice); two
// folders at the cut are reported, not one's metadata silently given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chown, chmod, mkdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';

const isRoot = process.getuid?.() === 0;

function xattrsOf(path: string): string {
  return execFileSync('getfattr', ['-d', '-m', '-', '--absolute-names', path], { encoding: 'utf8' }).split('\n').slice(1).join('\n');
}

function defaultAclOf(path: string): string {
  return execFileSync('getfacl', ['-d', '-p', '-c', path], { encoding: 'utf8' });
}

test('--strip to the depth of a folder gives a target the restore makes that folder\'s metadata; an existing target stays as it is', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  const source = join(data, 'ca');
  await mkdir(join(source, 'sub'), { recursive: true });
  await writeFile(join(source, 'sub', 'file'), 'f\n');
  execFileSync('setfattr', ['-n', 'user.note', '-v', 'kept', source]);
  execFileSync('setfacl', ['-d', '-m', 'u:1:rwx', source]);
  if (isRoot) await chown(source, 65534, 65534);
  await chmod(source, 0o2750);
  await utimes(source, 1_000_000_000, 1_000_000_000);
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const run = (args: string[]) => sandbox.runClient(['-c', config, ...args]);
  assert.equal((await run(['-e'])).code, 0);
  const strip = String(source.split('/').filter(Boolean).length);
  const expected = await stat(source);

  const asInBackup = async (target: string, label: string): Promise<void> => {
    const restored = await stat(target);
    assert.equal(restored.mode.toString(8), expected.mode.toString(8), label);
    assert.equal(`${restored.uid}:${restored.gid}`, `${expected.uid}:${expected.gid}`, label);
    assert.equal(restored.mtimeMs, expected.mtimeMs, label);
    assert.equal(xattrsOf(target), xattrsOf(source), label);
    assert.equal(defaultAclOf(target), defaultAclOf(source), label);
  };

  // A target the restore makes: the folder's metadata, exit 0.
  const made = join(sandbox.root, 'made');
  const fresh = await run(['-i', '--to', made, '--strip', strip]);
  assert.equal(fresh.code, 0, fresh.stderr);
  await asInBackup(made, 'made');
  assert.equal(execFileSync('cat', [join(made, 'sub', 'file')], { encoding: 'utf8' }), 'f\n');

  // An existing target: its own metadata stays, under every policy; the content goes in.
  const existing = join(sandbox.root, 'existing');
  await mkdir(existing, { mode: 0o755 });
  await chmod(existing, 0o755);
  for (const policy of [[], ['--overwrite']]) {
    const into = await run(['-i', '--to', existing, '--strip', strip, ...policy]);
    assert.equal(into.code, 0, into.stdout + into.stderr);
    assert.equal((await stat(existing)).mode & 0o7777, 0o755, policy.join(' '));
    assert.equal((await stat(existing)).uid, process.getuid?.(), policy.join(' '));
    assert.equal(execFileSync('cat', [join(existing, 'sub', 'file')], { encoding: 'utf8' }), 'f\n');
  }

  // Two folders at the cut onto a made target: the first one's metadata, the second reported where it
  // differs (mode, owner, attributes); one alike merges quietly.
  const alike = join(data, 'cc');
  await mkdir(alike);
  execFileSync('setfattr', ['-n', 'user.note', '-v', 'kept', alike]);
  execFileSync('setfacl', ['-d', '-m', 'u:1:rwx', alike]);
  if (isRoot) await chown(alike, 65534, 65534);
  await chmod(alike, 0o2750);
  const other = join(data, 'cb');
  await mkdir(other, { mode: 0o700 });
  await writeFile(join(other, 'g'), 'g\n');
  assert.equal((await run(['-e'])).code, 0);
  const merged = join(sandbox.root, 'merged');
  const both = await run(['-i', '--to', merged, '--strip', strip]);
  assert.equal(both.code, 3, both.stdout + both.stderr);
  assert.ok(both.stderr.includes(`${other}: its mode, owner or attributes not given to the target: --strip ${strip} makes it the target as it made ${source}`), both.stderr);
  await asInBackup(merged, 'merged');
  assert.equal(execFileSync('cat', [join(merged, 'g')], { encoding: 'utf8' }), 'g\n');
  assert.doesNotMatch(both.stderr, /cc: its mode/, both.stderr);

  // One component less: the folder is still above the cut, its content goes to the target's sub.
  const above = join(sandbox.root, 'above');
  const shallower = await run(['-i', '--to', above, '--strip', String(Number(strip) - 1)]);
  assert.equal(shallower.code, 0, shallower.stderr);
  await asInBackup(join(above, 'ca'), 'one less');
});
