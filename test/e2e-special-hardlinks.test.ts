// Regression: hard links between FIFOs, sockets, devices or symlinks were lost. The client sent every
// name of such an inode as an entry of its own and the restore made each one anew: `mkfifo a; ln a b`
// came back as two FIFOs, exit 0. Through the real server and CLI, each pair must share one inode after
// a restore into a folder, again over that restore, and with --strip. The server takes such a link
// only when it names an earlier entry of the same type.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { closeSync, constants, linkSync, lstatSync, mkdirSync, openSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import { compareTrees, formatDifferences } from './support/tree-compare';
import { removeTree } from './support/remove-tree';
import { makeDeviceAt, makeFifoAt, makeSocketAt } from '../src/client/posix/special-files';
import { EntryType } from '../src/proto/cpsbackup';
import { begin, commit, entryMessage, hostileClient, meta, sendUpload } from './support/hostile-client';

/** Builds the linked pairs under root; their first names, each linked as `<name>.link`. */
function buildLinkedPairs(root: string): string[] {
  mkdirSync(root, { recursive: true });
  const folderFd = openSync(root, constants.O_RDONLY | constants.O_DIRECTORY);
  const names: string[] = [];
  try {
    makeFifoAt(folderFd, 'fifo', 0o640);
    names.push('fifo');
    makeSocketAt(folderFd, 'socket', 0o600);
    names.push('socket');
    if (process.geteuid?.() === 0) {
      makeDeviceAt(folderFd, 'char-device', 'char', { major: 240, minor: 9 }, 0o620);
      names.push('char-device');
    } else {
      console.log('special hard links: skipping the character device: mknod needs root');
    }
  } finally {
    closeSync(folderFd);
  }
  symlinkSync('target/of/the link', join(root, 'symlink'));
  names.push('symlink');
  // link(2) on a symlink links the symlink itself on Linux (no AT_SYMLINK_FOLLOW).
  for (const name of names) linkSync(join(root, name), join(root, `${name}.link`));
  return names;
}

function assertLinked(folder: string, names: readonly string[]): void {
  for (const name of names) {
    const first = lstatSync(join(folder, name));
    const later = lstatSync(join(folder, `${name}.link`));
    assert.equal(later.ino, first.ino, `${folder}/${name}.link is not a link of ${name}`);
    assert.equal(first.nlink, 2, `${folder}/${name} has ${first.nlink} links`);
  }
}

test('hard links of FIFOs, sockets, devices and symlinks survive backup and restore', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(async () => {
    for (const folder of ['source', 'restored', 'stripped']) removeTree(join(sandbox.root, folder));
    await sandbox.destroy();
  });
  const source = join(sandbox.root, 'source');
  const names = buildLinkedPairs(join(source, 'pairs'));
  assertLinked(join(source, 'pairs'), names);
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${source}`]);
  const run = async (args: string[]): Promise<string> => {
    const result = await sandbox.runClient(['-c', config, ...args], { timeoutMs: 120_000 });
    assert.equal(result.code, 0, `cpsbackup ${args.join(' ')} exited ${result.code}:\n${result.stdout}${result.stderr}`);
    return result.stdout;
  };
  await run(['-e']);
  const restored = join(sandbox.root, 'restored');

  await t.test('restored into a folder, each pair is one inode', async () => {
    await run(['-i', '1', '--to', restored]);
    assertLinked(join(restored, source, 'pairs'), names);
    const differences = await compareTrees(source, join(restored, source));
    assert.deepEqual(differences, [], formatDifferences(differences));
  });

  await t.test('restored again over that restore, the links are found in place and kept', async () => {
    await run(['-i', '1', '--to', restored]);
    assertLinked(join(restored, source, 'pairs'), names);
  });

  await t.test('with --strip, a link names its stripped first path', async () => {
    const stripped = join(sandbox.root, 'stripped');
    const depth = source.split('/').length - 1;
    await run(['-i', '1', '--to', stripped, '--strip', String(depth)]);
    assertLinked(join(stripped, 'pairs'), names);
  });
});

test('the server takes a link of a symlink or special file only to an earlier entry of its type', async (t) => {
  const sandbox = await Sandbox.create();
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${join(sandbox.root, 'nothing')}`]);
  const client = hostileClient(config);
  t.after(async () => {
    client.close();
    await sandbox.destroy();
  });
  const { FIFO, SYMLINK, DIRECTORY } = { FIFO: EntryType.ENTRY_TYPE_FIFO, SYMLINK: EntryType.ENTRY_TYPE_SYMLINK, DIRECTORY: EntryType.ENTRY_TYPE_DIRECTORY };
  const linkTo = (target: string) => ({ nlink: 2, hardlinkTarget: Buffer.from(target) });
  const fifo = entryMessage(meta('/data/fifo', FIFO, { nlink: 2 }));
  const accepted = await sendUpload(client, [begin, fifo, entryMessage(meta('/data/fifo.link', FIFO, linkTo('/data/fifo'))), commit]);
  assert.equal(accepted.error, undefined, accepted.error?.details);
  const refusals: [string, ReturnType<typeof entryMessage>[], RegExp][] = [
    ['a FIFO linked to a symlink', [entryMessage(meta('/data/link', SYMLINK, { nlink: 2, linkTarget: 'x' })), entryMessage(meta('/data/zfifo', FIFO, linkTo('/data/link')))], /not an earlier entry of its type/],
    ['a FIFO linked to a path not sent', [entryMessage(meta('/data/fifo', FIFO, linkTo('/data/absent')))], /not an earlier entry of its type/],
    ['a folder linked to a folder', [entryMessage(meta('/data/a', DIRECTORY)), entryMessage(meta('/data/b', DIRECTORY, linkTo('/data/a')))], /neither a regular file, a symlink nor a special file/],
  ];
  for (const [what, entries, pattern] of refusals) {
    const outcome = await sendUpload(client, [begin, ...entries, commit]);
    assert.equal(outcome.error?.code, grpc.status.INVALID_ARGUMENT, `${what}: ${outcome.error?.details ?? 'accepted'}`);
    assert.match(outcome.error!.details, pattern, what);
  }
});
