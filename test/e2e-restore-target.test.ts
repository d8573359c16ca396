// Restore never writes outside its target, through the real CLI: the target spelled DIR, DIR/, DIR/.,
// x/../DIR or ./DIR/, with a symlink planted inside it at several depths pointing out, and restores to
// the original paths after an ancestor of the include was replaced by a symlink: nothing lands
// elsewhere, what was refused is named, and the exit code is 3.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readFile, readdir, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { join, resolve } from 'node:path';
import { Sandbox, type CommandResult } from './support/sandbox';

const CLIENT = resolve(__dirname, '..', 'src', 'cli', 'cpsbackup.js');

function runIn(cwd: string, args: readonly string[]): Promise<CommandResult> {
  return new Promise((resolveResult) => {
    const child = spawn(process.execPath, [CLIENT, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data: Buffer) => { stdout += data.toString(); });
    child.stderr.on('data', (data: Buffer) => { stderr += data.toString(); });
    child.on('close', (code, signal) => resolveResult({ code, signal, stdout, stderr }));
  });
}

test('a symlink planted in the target at any depth, whatever the target\'s spelling: nothing is written outside', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  await mkdir(join(data, 'sub', 'deeper'), { recursive: true });
  await writeFile(join(data, 'top.txt'), 'top\n');
  await writeFile(join(data, 'sub', 'mid.txt'), 'mid\n');
  await writeFile(join(data, 'sub', 'deeper', 'low.txt'), 'low\n');
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  assert.equal((await sandbox.runClient(['-c', config, '-e'])).code, 0);

  const outside = join(sandbox.root, 'outside');
  await mkdir(outside);
  const components = data.split('/').filter(Boolean);
  // Depth 1: the first component of the backed-up path; depth n: the data folder itself; deeper: inside it.
  const trapDepths = [1, components.length, components.length + 1, components.length + 2];
  const spellings = (name: string): string[] => [name, `${name}/`, `${name}/.`, `x/../${name}`, `./${name}/`];
  await mkdir(join(sandbox.root, 'x'), { recursive: true });
  let round = 0;
  for (const depth of trapDepths) {
    for (const spellingOf of spellings('TARGET').map((form) => (name: string) => form.replace('TARGET', name))) {
      // A fresh target per attempt, each with its trap: a relative spelling is resolved from the sandbox.
      const name = `target-${round++}`;
      const spelling = spellingOf(name);
      const target = join(sandbox.root, name);
      const trapComponents = [...components, 'sub', 'deeper'].slice(0, depth);
      await mkdir(join(target, ...trapComponents.slice(0, -1)), { recursive: true });
      await symlink(outside, join(target, ...trapComponents));
      const result = await runIn(sandbox.root, ['-c', config, '-i', '--to', spelling]);
      assert.equal(result.code, 3, `${spelling} (trap at depth ${depth}):\n${result.stdout}${result.stderr}`);
      assert.match(result.stderr, /is a symlink .*nothing is written through a symlink/, spelling);
      assert.deepEqual(await readdir(outside), [], `${spelling} (trap at depth ${depth}) wrote through the symlink`);
    }
  }
});

test('original paths: an ancestor of the include replaced by a symlink is refused, not followed', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const include = join(sandbox.root, 'a', 'p', 'src');
  await mkdir(include, { recursive: true });
  await writeFile(join(include, 'file.txt'), 'original place\n');
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${include}`]);
  assert.equal((await sandbox.runClient(['-c', config, '-e'])).code, 0);

  const elsewhere = join(sandbox.root, 'elsewhere');
  await mkdir(elsewhere);
  await rename(join(sandbox.root, 'a', 'p'), join(sandbox.root, 'a', 'p.moved'));
  await symlink(elsewhere, join(sandbox.root, 'a', 'p'));
  const result = await sandbox.runClient(['-c', config, '-i']);
  assert.equal(result.code, 3, result.stdout + result.stderr);
  assert.match(result.stderr, new RegExp(`${join(sandbox.root, 'a', 'p')}" is a symlink`));
  assert.deepEqual(await readdir(elsewhere), [], 'nothing landed where the symlink points');
  await rm(join(sandbox.root, 'a', 'p'));
});

// Regression (operator review): `-i 99 --to DIR` made DIR (mode 0700) and then failed on "no backup 99",
// leaving an empty folder behind each mistyped id.
test('a restore refused before anything came leaves no target folder behind; an existing one stays', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'a.txt'), 'a\n');
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  assert.equal((await sandbox.runClient(['-c', config, '-e'])).code, 0);
  const target = join(sandbox.root, 'not-yet');
  const refused = await sandbox.runClient(['-c', config, '-i', '99', '--to', target]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /has no backup 99/);
  await assert.rejects(readdir(target), { code: 'ENOENT' }, 'the folder made for the refused restore is gone');
  const existing = join(sandbox.root, 'existing');
  await mkdir(existing);
  assert.notEqual((await sandbox.runClient(['-c', config, '-i', '99', '--to', existing])).code, 0);
  assert.deepEqual(await readdir(existing), [], 'a folder that was there before stays');
  // The folders made above the target go too, up to the first that was there (relative spellings alike).
  const nested = await sandbox.runClient(['-c', config, '-i', '99', '--to', join(existing, 'x', 'y', 'z')]);
  assert.match(nested.stderr, /has no backup 99/);
  assert.deepEqual(await readdir(existing), [], 'x/y/z made for the refused restore, all three gone');
  const relative = await runIn(existing, ['-c', config, '-i', '99', '--to', 'p/q/./../q/r']);
  assert.match(relative.stderr, /has no backup 99/);
  assert.deepEqual(await readdir(existing), []);
});

// Regression (review): the folders a refused restore made were removed by path, so a folder on the way
// swapped for a symlink while the restore waited on its server had the removal follow it, into empty
// folders the restore never made. The server here takes the connection and drops it 1.5 s later.
test('a refused restore removes the folders it made without following a symlink swapped in for one of them', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const held: Socket[] = [];
  const stalling = createServer((socket) => {
    held.push(socket);
    setTimeout(() => socket.destroy(), 1500);
  });
  await new Promise<void>((listening) => stalling.listen(0, '127.0.0.1', listening));
  t.after(() => {
    for (const socket of held) socket.destroy();
    stalling.close();
  });
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', ['include = /nonexistent']);
  await writeFile(config, (await readFile(config, 'utf8')).replace(/^port = \d+$/m, `port = ${(stalling.address() as AddressInfo).port}`));
  const victim = join(sandbox.root, 'victim');
  await mkdir(join(victim, 'b', 'c'), { recursive: true });
  const parent = join(sandbox.root, 'parent');
  await mkdir(parent);
  const restore = sandbox.runClient(['-c', config, '-i', '99', '--to', join(parent, 'a', 'b', 'c')]);
  for (let wait = 0; wait < 500 && !(await stat(join(parent, 'a', 'b', 'c')).catch(() => undefined)); wait++) await sleep(10);
  await rename(join(parent, 'a'), join(parent, 'a.moved'));
  await symlink(victim, join(parent, 'a'));
  const refused = await restore;
  assert.notEqual(refused.code, 0, refused.stdout);
  assert.deepEqual(await readdir(join(victim, 'b')), ['c'], 'the empty folders behind the symlink are left');
  assert.deepEqual(await readdir(join(parent, 'a.moved', 'b')), ['c'], 'the folders moved away are left too: nothing is removed through another path');
});
