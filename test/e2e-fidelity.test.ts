// A restore gives back the tree that was there, through the real server and CLI: names as bytes
// (invalid UTF-8, newlines, 255-byte components, a path past 4096 bytes), hard links, holes of a
// 2 GiB sparse file, owners by name and id, modes with setuid/setgid/sticky, mtimes to the
// nanosecond, xattrs and ACLs, FIFOs, devices, sockets and empty folders; into a folder and to the
// original paths, from a first backup and from one whose files were all unchanged references.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import { buildFidelityTree } from './support/fidelity-tree';
import { compareTrees, formatDifferences } from './support/tree-compare';
import { removeTree } from './support/remove-tree';

test('the fidelity tree survives backup and restore, into a folder and to the original paths', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(async () => {
    for (const folder of ['source', 'source.before', 'restored-1', 'restored-2']) removeTree(join(sandbox.root, folder));
    await sandbox.destroy();
  });
  const source = join(sandbox.root, 'source');
  const fidelity = await buildFidelityTree(source, { withLongPath: true });
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${source}`]);
  const run = async (args: string[]): Promise<string> => {
    const result = await sandbox.runClient(['-c', config, ...args], { timeoutMs: 600_000 });
    assert.equal(result.code, 0, `cpsbackup ${args.join(' ')} exited ${result.code}:\n${result.stdout}${result.stderr}`);
    return result.stdout;
  };

  await t.test('a first backup stores the 2 GiB sparse file as its few KiB of data', async () => {
    const summary = await run(['-e']);
    const read = /of ([\d.]+) (B|KiB|MiB|GiB) read/.exec(summary);
    assert.ok(read, summary);
    assert.ok(read[2] !== 'GiB', `the holes were read: ${summary}`);
  });

  await t.test('restored into a folder, the tree equals the original in every respect', async () => {
    await run(['-i', '1', '--to', join(sandbox.root, 'restored-1')]);
    const differences = await compareTrees(source, join(sandbox.root, 'restored-1', source));
    assert.deepEqual(differences, [], formatDifferences(differences));
  });

  await t.test('a second backup of the unchanged tree (references only) restores the same tree', async () => {
    const summary = await run(['-e']);
    assert.match(summary, /stored 0 B new/);
    await run(['-i', '2', '--to', join(sandbox.root, 'restored-2')]);
    const differences = await compareTrees(source, join(sandbox.root, 'restored-2', source));
    assert.deepEqual(differences, [], formatDifferences(differences));
  });

  await t.test('restored to the original paths after the original moved away, it comes back where it was', async () => {
    await rename(source, join(sandbox.root, 'source.before'));
    await run(['-i', '2']);
    const differences = await compareTrees(join(sandbox.root, 'source.before'), source);
    assert.deepEqual(differences, [], formatDifferences(differences));
  });

  await t.test('-s lists every name on one line, escaped, and --json gives its bytes', async () => {
    const listing = await run(['-s', '2']);
    for (const name of fidelity.invalidUtf8Names) assert.ok(!listing.includes(name.toString('latin1')), 'no raw invalid byte is printed');
    assert.ok(!/new\nline/.test(listing), 'a newline in a name is escaped');
    assert.match(listing, /new\\x0aline/);
    const shown = JSON.parse(await run(['-s', '2', '--json'])) as { entries: { path: string; pathBase64: string }[] };
    const paths = new Set(shown.entries.map((entry) => Buffer.from(entry.pathBase64, 'base64').toString('latin1')));
    for (const name of fidelity.invalidUtf8Names) {
      assert.ok(paths.has(Buffer.concat([Buffer.from(`${source}/names/`), name]).toString('latin1')), `--json has the bytes of ${name.toString('hex')}`);
    }
  });
});
