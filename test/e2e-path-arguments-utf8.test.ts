// Regression (review): a local path named on the command line by bytes that are not UTF-8 was decoded
// by Node to U+FFFD and named another path. `-i --to "$(printf '/srv/proj\377')"` restored into
// "/srv/proj\357\277\275", replacing the files of a folder of that name, with exit 0. Every option and
// argument naming a file or folder of this machine, of every CLI, as a separate and as a glued argument,
// is refused (exit 2) and makes nothing; a U+FFFD typed as UTF-8 still names its folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { runNode, Sandbox } from './support/sandbox';

const CLI_FOLDER = resolve(__dirname, '..', 'src', 'cli');
const LITERAL_REPLACEMENT = '\ufffd';

/** Runs a CLI with one argument given as printf's expansion of `printfPath` (octal escapes) by a shell, spliced where "RAW" stands. */
function runWithRawArgument(cli: string, args: readonly string[], printfPath: string): ReturnType<typeof runNode> {
  const spliced = args.map((argument) => (argument.includes('RAW') ? `"${argument.replace('RAW', '$(printf "$RAW_PATH")')}"` : `'${argument}'`));
  return runNode(join(CLI_FOLDER, cli), [], 120_000,
    ['env', `RAW_PATH=${printfPath}`, 'sh', '-c', `exec "$@" ${spliced.join(' ')}`, 'sh']);
}

function assertRefused(result: Awaited<ReturnType<typeof runNode>>, what: string): void {
  assert.equal(result.code, 2, `${what}: ${result.stdout}${result.stderr}`);
  assert.match(result.stderr, /is not UTF-8/, what);
}

test('a local path that is not UTF-8 is refused by every CLI, in every spelling, and makes nothing', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'f.txt'), 'backed up\n');
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const backup = await sandbox.runClient(['-c', config, '-e']);
  assert.equal(backup.code, 0, backup.stderr);

  // The folder Node's decoding names, live data of someone else: it must stay as it is.
  const decodedTwin = join(sandbox.root, `proj${LITERAL_REPLACEMENT}`);
  await mkdir(join(decodedTwin, data), { recursive: true });
  await writeFile(join(decodedTwin, data, 'f.txt'), 'live data\n');
  const asked = `${sandbox.root}/proj\\377`;
  for (const args of [['-c', config, '-i', '--to', 'RAW', '--overwrite'], ['-c', config, '-i', '--to=RAW', '--overwrite']]) {
    assertRefused(await runWithRawArgument('cpsbackup.js', args, asked), args.join(' '));
  }
  assert.equal(await readFile(join(decodedTwin, data, 'f.txt'), 'utf8'), 'live data\n');
  const made = (await readdir(sandbox.root, { encoding: 'buffer' })).filter((name) => name.subarray(0, 4).equals(Buffer.from('proj')));
  assert.deepEqual(made.map((name) => name.toString('latin1')), [Buffer.from(`proj${LITERAL_REPLACEMENT}`).toString('latin1')], 'no folder made');

  const configTwin = `${sandbox.root}/node1\\377.conf`;
  await writeFile(join(sandbox.root, `node1${LITERAL_REPLACEMENT}.conf`), await readFile(config));
  for (const args of [['-c', 'RAW', '-l'], ['-cRAW', '-l'], ['--config=RAW', '-l']]) {
    assertRefused(await runWithRawArgument('cpsbackup.js', args, configTwin), args.join(' '));
  }
  for (const args of [['-c', 'RAW', 'status'], ['init-key', 'RAW']]) {
    assertRefused(await runWithRawArgument('cpsbackup-server.js', args, `${sandbox.root}/s\\377`), args.join(' '));
  }
  for (const args of [['init', '--dir', 'RAW'], ['init', '--dir=RAW'], ['revoke', '--dir', sandbox.sslDirectory, '--cert', 'RAW']]) {
    assertRefused(await runWithRawArgument('cpsbackup-ca.js', args, `${sandbox.root}/ca\\377`), args.join(' '));
  }
  const after = (await readdir(sandbox.root, { encoding: 'buffer' })).filter((name) => name.includes(0xff) || name.includes(Buffer.from('s\ufffd')) || name.includes(Buffer.from('ca\ufffd')));
  assert.deepEqual(after, [], 'no file or folder made');

  // A U+FFFD typed as UTF-8 is a name like any other.
  const literal = join(sandbox.root, `typed${LITERAL_REPLACEMENT}`);
  const restore = await sandbox.runClient(['-c', config, '-i', '--to', literal]);
  assert.equal(restore.code, 0, restore.stdout + restore.stderr);
  assert.equal(await readFile(join(literal, data, 'f.txt'), 'utf8'), 'backed up\n');
});
