// Regression (review): a hard link was made to whatever sat at its first name's path at that moment.
// ca/a and cb/z share one file (LINKED), cb/a is another (OTHER); -i --strip up to ca and cb with
// --overwrite restored cb/a over a, then linked z to it: both read OTHER, z's content was lost, exit 0.
// Proves the link is made only while the path holds the file this restore put there for the first name:
// cb/a now meets ca/a as a collision (restore-collisions.test.ts), so a stays ca/a's and z is linked to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { link, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';

test('a hard link whose first name was overwritten by another entry (--strip made them meet) is not linked to it, and reported', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  await mkdir(join(data, 'ca'), { recursive: true });
  await mkdir(join(data, 'cb'));
  await writeFile(join(data, 'ca', 'a'), 'LINKED\n');
  await link(join(data, 'ca', 'a'), join(data, 'cb', 'z'));
  await writeFile(join(data, 'cb', 'a'), 'OTHER\n');
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const run = (args: string[]) => sandbox.runClient(['-c', config, ...args]);
  const backup = await run(['-e']);
  assert.equal(backup.code, 0, backup.stderr);

  const target = join(sandbox.root, 'S3');
  const strip = String(data.split('/').filter(Boolean).length + 1); // down to ca/ and cb/
  const restore = await run(['-i', '--to', target, '--strip', strip, '--overwrite']);
  assert.equal(restore.code, 3, restore.stdout + restore.stderr);
  assert.ok(restore.stderr.includes(`${join(target, 'a')}: ${join(data, 'cb', 'a')} and an entry of the backup before it land on one path here`),
    restore.stderr);
  assert.equal(await readFile(join(target, 'a'), 'utf8'), 'LINKED\n');
  assert.deepEqual((await readdir(target)).sort(), ['a', 'z']);
  assert.equal((await stat(join(target, 'a'))).ino, (await stat(join(target, 'z'))).ino, 'z is linked to the file restored for its first name');

  // Without the collision the link is made as before.
  const whole = join(sandbox.root, 'whole');
  const plain = await run(['-i', '--to', whole]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(await readFile(join(whole, data, 'cb', 'z'), 'utf8'), 'LINKED\n');
  assert.equal((await stat(join(whole, data, 'ca', 'a'))).ino, (await stat(join(whole, data, 'cb', 'z'))).ino);
});

// Regression (red team, last session): a file whose first name (in path order) lies within the components --strip
// drops was not restored under its other, kept names either: the server sent them as links to the dropped name,
// exit 3 naming them. The client now tells the server the strip, and the group starts at its first kept name.
test('a hard-linked file whose first name lies within the stripped components is restored under its kept names', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  await mkdir(join(data, 'sub'), { recursive: true });
  await writeFile(join(data, 'a-top'), 'LINKED\n');
  await link(join(data, 'a-top'), join(data, 'sub', 'b-deep'));
  await link(join(data, 'a-top'), join(data, 'sub', 'c-deep'));
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const run = (args: string[]) => sandbox.runClient(['-c', config, ...args]);
  const backup = await run(['-e']);
  assert.equal(backup.code, 0, backup.stderr);

  const target = join(sandbox.root, 'stripped');
  const strip = data.split('/').filter(Boolean).length + 1; // down to data/'s entries: a-top is dropped, sub/ is the cut
  const restore = await run(['-i', '--to', target, '--strip', String(strip)]);
  assert.equal(restore.code, 3, restore.stdout + restore.stderr); // a-top itself cannot be placed: named
  assert.match(restore.stderr, new RegExp(`${join(data, 'a-top')}: not restored: it lies within the leading components that --strip ${strip} drops`));
  assert.doesNotMatch(restore.stderr, /b-deep|c-deep/);
  assert.equal(await readFile(join(target, 'b-deep'), 'utf8'), 'LINKED\n');
  assert.equal((await stat(join(target, 'b-deep'))).ino, (await stat(join(target, 'c-deep'))).ino, 'the kept names are one file');
  assert.equal((await stat(join(target, 'b-deep'))).nlink, 2);
});
