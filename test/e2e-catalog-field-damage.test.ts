// Regression (red team F2): one catalog value that does not decode stopped everything unseen. An entry's
// xattrs or extents blob cut short, or a backup's labels JSON broken: check said "no errors found", the
// restore wrote nothing and exited 1 naming no file, -s and -l failed, and every later backup of the client
// failed for ever. Now each is damage of that one entry or backup: check names it, the restore names the
// file as not restorable and restores the rest (exit 3), -s and -l show the rest and say what is damaged,
// and the next backup reads the damaged file again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { link, lstat, mkdir, open, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Sandbox } from './support/sandbox';
import { writeDeterministicFile } from './support/trees';
import { backupNow } from './support/fault-tools';

test('an undecodable xattrs or extents blob and broken labels cost one file and one backup\'s labels, never the client\'s restores and backups', async () => {
  const sandbox = await Sandbox.create();
  try {
    const data = join(sandbox.root, 'data');
    await mkdir(data, { recursive: true });
    await writeDeterministicFile(join(data, 'x.bin'), 'x', 300_000);
    execFileSync('setfattr', ['-n', 'user.color', '-v', 'blue', join(data, 'x.bin')]);
    await writeDeterministicFile(join(data, 'h1'), 'h1', 200_000);
    await link(join(data, 'h1'), join(data, 'h2'));
    await writeFile(join(data, 'f1'), 'fine\n');
    const sparse = await open(join(data, 'sparse.bin'), 'w');
    await sparse.truncate(10 * 1024 * 1024);
    await sparse.write(Buffer.from('data'), 0, 4, 5_000_000);
    await sparse.close();
    await sandbox.startServer();
    let configFile = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
    await backupNow(sandbox, configFile, data);
    await sandbox.runningServer!.stop();

    const database = new Database(join(sandbox.storeDirectory, 'catalog.db'));
    try {
      const cut = (column: string, path: string): void => {
        const changed = database.prepare(`UPDATE entries SET ${column} = substr(${column}, 1, length(${column}) - 1) WHERE path = ?`).run(Buffer.from(join(data, path))).changes;
        assert.equal(changed, 1, `${path} has a ${column} blob`);
      };
      cut('xattrs', 'x.bin');
      cut('extents', 'sparse.bin');
      database.prepare(`UPDATE backups SET labels = '{"client.version":' WHERE number = 1`).run();
    } finally {
      database.close();
    }

    const check = await sandbox.runServerCommand(['check', '--read-data']);
    assert.equal(check.code, 1, check.stdout + check.stderr);
    assert.match(check.stdout, new RegExp(`damaged entry: client node1, backup 0000001, ${join(data, 'x.bin')}: extended attributes: `));
    assert.match(check.stdout, new RegExp(`damaged entry: client node1, backup 0000001, ${join(data, 'sparse.bin')}: sparse extents: `));
    assert.match(check.stdout, /damaged labels: client node1, backup 0000001: this backup's labels do not parse/);

    await sandbox.startServer();
    configFile = await sandbox.writeNodeConfig('node1', [`include = ${data}`]); // the new server's port
    const target = join(sandbox.root, 'out');
    const restore = await sandbox.runClient(['-c', configFile, '-i', '1', '--to', target]);
    assert.equal(restore.code, 3, restore.stdout + restore.stderr);
    assert.match(restore.stderr, new RegExp(`${join(data, 'x.bin')}: extended attributes: `));
    assert.match(restore.stderr, new RegExp(`${join(data, 'sparse.bin')}: sparse extents: `));
    for (const name of ['h1', 'h2', 'f1']) {
      assert.ok((await readFile(join(target, data, name))).equals(await readFile(join(data, name))), `${name} restored`);
    }

    const show = await sandbox.runClient(['-c', configFile, '-s', '1']);
    assert.equal(show.code, 0, show.stdout + show.stderr);
    assert.match(show.stdout, new RegExp(`warning: damaged entry: ${join(data, 'x.bin')}: extended attributes`));
    assert.match(show.stdout, /warning: catalog damage: this backup's labels do not parse/);
    assert.match(show.stdout, new RegExp(`${join(data, 'f1')}$`, 'm'));
    const list = await sandbox.runClient(['-c', configFile, '-l']);
    assert.equal(list.code, 0, list.stdout + list.stderr);
    assert.match(list.stdout, /Backup: 0000001 /);

    const second = await backupNow(sandbox, configFile, data); // exit 0: the damaged entries' files are read again
    const again = join(sandbox.root, 'again');
    const restored = await sandbox.runClient(['-c', configFile, '-i', String(second.number), '--to', again]);
    assert.equal(restored.code, 0, restored.stdout + restored.stderr);
    assert.equal(execFileSync('getfattr', ['--only-values', '-n', 'user.color', join(again, data, 'x.bin')]).toString(), 'blue');
    assert.ok((await readFile(join(again, data, 'sparse.bin'))).equals(await readFile(join(data, 'sparse.bin'))));
  } finally {
    await sandbox.destroy();
  }
});

/**
 * Backs `data` up once, then cuts the last byte of the catalog's attribute list of each of `names` (below data) with the
 * server stopped, and starts it again; the node config for the new server.
 */
async function backUpThenCutAttributes(sandbox: Sandbox, data: string, names: readonly string[]): Promise<string> {
  await sandbox.startServer();
  await backupNow(sandbox, await sandbox.writeNodeConfig('node1', [`include = ${data}`]), data);
  await sandbox.runningServer!.stop();
  const database = new Database(join(sandbox.storeDirectory, 'catalog.db'));
  try {
    for (const name of names) {
      const changed = database.prepare(`UPDATE entries SET xattrs = substr(xattrs, 1, length(xattrs) - 1) WHERE path = ?`).run(Buffer.from(join(data, name))).changes;
      assert.equal(changed, 1, `${name} has an xattrs blob`);
    }
  } finally {
    database.close();
  }
  await sandbox.startServer();
  return sandbox.writeNodeConfig('node1', [`include = ${data}`]); // the new server's port
}

// A folder, a symlink or a FIFO has no content to refuse: with its attribute list damaged it was restored without
// the attributes, and the restore exited 0 naming nothing. Now it is restored, named, exit 3. (An empty file has a
// content, empty: as any file it is named as not restorable.)
test('an entry without content whose attributes do not decode is restored without them, named, and the restore does not exit 0', async () => {
  const sandbox = await Sandbox.create();
  try {
    const data = join(sandbox.root, 'data');
    await mkdir(join(data, 'folder'), { recursive: true });
    await writeFile(join(data, 'folder', 'inside'), 'inside\n');
    await writeFile(join(data, 'empty'), '');
    await symlink('folder/inside', join(data, 'link'));
    execFileSync('mkfifo', [join(data, 'fifo')]);
    await writeFile(join(data, 'fine'), 'fine\n');
    const damagedNames = ['folder', 'link', 'fifo', 'empty'];
    const withoutContent = damagedNames.slice(0, 3);
    // trusted.* (root): user.* attributes are refused on symlinks and FIFOs.
    for (const name of damagedNames) execFileSync('setfattr', ['-h', '-n', 'trusted.color', '-v', 'blue', join(data, name)]);
    const configFile = await backUpThenCutAttributes(sandbox, data, damagedNames);
    const show = await sandbox.runClient(['-c', configFile, '-s', '1']);
    assert.equal(show.code, 0, show.stdout + show.stderr);
    assert.match(show.stdout, new RegExp(`warning: damaged entry: ${join(data, 'folder')}: extended attributes: .*a restore gives it back without its attributes`));

    const target = join(sandbox.root, 'out');
    const restore = await sandbox.runClient(['-c', configFile, '-i', '1', '--to', target]);
    assert.equal(restore.code, 3, restore.stdout + restore.stderr);
    for (const name of withoutContent) {
      assert.match(restore.stderr, new RegExp(`${join(target, data, name)}: its extended attributes and ACLs are not restored: extended attributes: `), name);
    }
    assert.doesNotMatch(restore.stderr, /fine|inside/);
    assert.equal(await readFile(join(target, data, 'folder', 'inside'), 'utf8'), 'inside\n');
    assert.equal(await readlink(join(target, data, 'link')), 'folder/inside');
    assert.ok((await lstat(join(target, data, 'fifo'))).isFIFO());
    assert.match(restore.stderr, new RegExp(`${join(data, 'empty')}: extended attributes: `));

    // The next backup stores each one's attributes again: its restore has them, exit 0.
    const second = await backupNow(sandbox, configFile, data);
    const again = join(sandbox.root, 'again');
    const restored = await sandbox.runClient(['-c', configFile, '-i', String(second.number), '--to', again]);
    assert.equal(restored.code, 0, restored.stdout + restored.stderr);
    for (const name of damagedNames) {
      assert.equal(execFileSync('getfattr', ['-h', '--only-values', '-n', 'trusted.color', join(again, data, name)]).toString(), 'blue', name);
    }
  } finally {
    await sandbox.destroy();
  }
});

// Review: with the folder's attribute list damaged, an in-place `-i --overwrite` removed the live folder's ACL and
// attributes as "not in the backup", `-i` without it said they differed from the backup, and a restore of a file
// below it named the folder it never touched. The backup's attributes are unknown: none are set, removed or compared.
test('a damaged attribute list is unknown, not empty: an existing folder keeps its own attributes, and only an entry the restore gives metadata is named', async () => {
  const sandbox = await Sandbox.create();
  try {
    const data = join(sandbox.root, 'data');
    await mkdir(join(data, 'folder'), { recursive: true });
    await writeFile(join(data, 'folder', 'inside'), 'inside\n');
    execFileSync('setfattr', ['-n', 'user.color', '-v', 'blue', join(data, 'folder')]);
    execFileSync('setfacl', ['-m', 'u:nobody:r-x', join(data, 'folder')]);
    const configFile = await backUpThenCutAttributes(sandbox, data, ['folder']);
    const liveAttributes = (): string => execFileSync('getfattr', ['-d', '-m', '-', '--absolute-names', join(data, 'folder')]).toString();
    const before = liveAttributes();
    assert.match(before, /user\.color="blue"/);
    assert.match(before, /system\.posix_acl_access/);

    const inPlace = await sandbox.runClient(['-c', configFile, '-i', '1']);
    assert.doesNotMatch(inPlace.stderr, /not in the backup/);
    const below = await sandbox.runClient(['-c', configFile, '-i', '1', '--overwrite', '--include', join(data, 'folder', 'inside')]);
    assert.equal(below.code, 0, below.stdout + below.stderr);
    const overwritten = await sandbox.runClient(['-c', configFile, '-i', '1', '--overwrite']);
    assert.equal(overwritten.code, 3, overwritten.stdout + overwritten.stderr);
    assert.match(overwritten.stderr, new RegExp(`${join(data, 'folder')}: its extended attributes and ACLs are not restored: extended attributes: `));
    assert.equal(liveAttributes(), before, 'the live folder keeps its attributes and ACL');
  } finally {
    await sandbox.destroy();
  }
});
