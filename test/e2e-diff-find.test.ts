// Proves --diff and --find through the real CLI and server against the actual trees: files added,
// removed, changed in content or only in mode between two backups, names with invalid UTF-8 and
// newlines (escaped in text, exact bytes in --json), sizes and mtimes as the file system has them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox, type CommandResult } from './support/sandbox';
import { escapeBytes } from '../src/common/escape-bytes';

function exited(result: CommandResult, code: number, what: string): CommandResult {
  assert.equal(result.code, code, `${what} exited ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

interface Seen {
  readonly type: string;
  readonly size: number;
  readonly mode: number;
  readonly mtimeNs: bigint;
  readonly sha256: string;
}

/** Every entry under (and including) root, keyed by its path's bytes in base64. */
async function snapshot(root: Buffer): Promise<Map<string, Seen>> {
  const seen = new Map<string, Seen>();
  const visit = async (path: Buffer): Promise<void> => {
    const stats = await lstat(path, { bigint: true });
    const type = stats.isDirectory() ? 'dir' : stats.isSymbolicLink() ? 'link' : 'file';
    const sha256 = type === 'file' ? createHash('sha256').update(await readFile(path)).digest('hex') : '';
    seen.set(path.toString('base64'), { type, size: type === 'dir' ? 0 : Number(stats.size), mode: Number(stats.mode) & 0o7777, mtimeNs: stats.mtimeNs, sha256 });
    if (type === 'dir') for (const name of await readdir(path, { encoding: 'buffer' })) await visit(Buffer.concat([path, Buffer.from('/'), name]));
  };
  await visit(root);
  return seen;
}

/** What --diff must say, from the two snapshots, by the documented rules (content, size, mode, mtime, link). */
function expectedDiff(before: Map<string, Seen>, after: Map<string, Seen>): Map<string, string> {
  const expected = new Map<string, string>();
  for (const [key, old] of before) {
    const now = after.get(key);
    if (now === undefined) expected.set(key, 'removed');
    else if (old.type !== now.type || old.sha256 !== now.sha256 || old.size !== now.size || old.mode !== now.mode || old.mtimeNs !== now.mtimeNs) expected.set(key, 'changed');
  }
  for (const key of after.keys()) if (!before.has(key)) expected.set(key, 'added');
  return expected;
}

interface JsonEntry { path: string; pathBase64: string; type: string; size: number; mtimeNs: string; mode: string }
interface JsonDifference { change: string; path: string; pathBase64: string; changes: string[]; before: JsonEntry | null; after: JsonEntry | null }
interface JsonMatch extends JsonEntry { backup: number }

test('--diff and --find answer from the catalog what the trees hold, names as bytes', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  await sandbox.startServer();
  const data = join(sandbox.root, 'data');
  const dataBytes = Buffer.from(data);
  const name = (...parts: (string | Buffer)[]): Buffer => Buffer.concat([dataBytes, ...parts.flatMap((part) => [Buffer.from('/'), Buffer.from(part)])]);
  await mkdir(join(data, 'dir'), { recursive: true });
  await writeFile(join(data, 'keep.txt'), 'the same in both\n');
  await writeFile(join(data, 'change.txt'), 'first version\n');
  await writeFile(join(data, 'mode.txt'), 'only its mode changes\n');
  await writeFile(join(data, 'gone.txt'), 'removed before the second backup\n');
  const invalidName = name(Buffer.from([0x62, 0x61, 0x64, 0xff, 0x2e, 0x74, 0x78, 0x74])); // "bad\xff.txt"
  await writeFile(invalidName, 'a name that is not UTF-8\n');
  const newlineName = name('new\nline.txt');
  await writeFile(newlineName, 'a newline in the name\n');
  await symlink('keep.txt', join(data, 'link'));
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const cli = (...args: string[]) => sandbox.runClient(['-c', config, ...args]);
  const first = await snapshot(dataBytes);
  exited(await cli('-e'), 0, 'backup 1');

  await rm(join(data, 'gone.txt'));
  await rm(invalidName);
  const addedName = name(Buffer.from([0x61, 0x64, 0x64, 0xfe, 0x0a, 0x2e, 0x62, 0x69, 0x6e])); // "add\xfe\n.bin"
  await writeFile(addedName, Buffer.alloc(3000, 7));
  await writeFile(join(data, 'dir', 'sub.conf'), 'key = value\n');
  await writeFile(join(data, 'change.txt'), 'the second, longer version\n');
  await chmod(join(data, 'mode.txt'), 0o600);
  await writeFile(newlineName, 'a newline in the name, changed\n');
  const second = await snapshot(dataBytes);
  exited(await cli('-e'), 0, 'backup 2');

  // JSON: every difference the trees hold, nothing else, with sizes and what changed.
  const differences = JSON.parse(exited(await cli('--diff', '1', '2', '--json'), 0, '--diff --json').stdout) as JsonDifference[];
  const expected = expectedDiff(first, second);
  const underData = differences.filter((difference) => Buffer.from(difference.pathBase64, 'base64').subarray(0, dataBytes.length).equals(dataBytes));
  assert.deepEqual(differences.length, underData.length, 'nothing outside the include changed');
  assert.deepEqual(new Map(underData.map((difference) => [difference.pathBase64, difference.change])), expected);
  assert.ok(expected.size >= 8, `a real mix of changes: ${expected.size}`);
  const byPath = new Map(underData.map((difference) => [Buffer.from(difference.pathBase64, 'base64').toString('latin1'), difference]));
  const at = (path: Buffer) => byPath.get(path.toString('latin1'))!;
  assert.equal(at(addedName).change, 'added');
  assert.equal(at(addedName).after!.size, 3000);
  assert.equal(at(addedName).path, escapeBytes(addedName));
  assert.match(at(addedName).path, /add\\xfe\\x0a\.bin$/);
  assert.equal(at(invalidName).change, 'removed');
  assert.equal(at(invalidName).before!.size, first.get(invalidName.toString('base64'))!.size);
  assert.deepEqual([at(name('change.txt')).before!.size, at(name('change.txt')).after!.size], [14, 27]);
  assert.deepEqual(at(name('change.txt')).changes.filter((change) => change !== 'mtime'), ['content', 'size']);
  assert.deepEqual(at(name('mode.txt')).changes, ['mode'], 'a chmod is a mode change, not a content change');
  assert.equal(at(name('mode.txt')).after!.mode, '0600');
  assert.equal(byPath.get(name('keep.txt').toString('latin1')), undefined, 'an unchanged file is not listed');
  for (const difference of underData) {
    const entry = difference.after ?? difference.before!;
    const seen = (difference.after ? second : first).get(difference.pathBase64)!;
    assert.equal(entry.mtimeNs, String(seen.mtimeNs), `mtime of ${difference.path}`);
    if (seen.type !== 'dir') assert.equal(entry.size, seen.size, `size of ${difference.path}`);
  }

  // Text: one line per difference (names escaped, so a newline never splits one), then the totals.
  const text = exited(await cli('--diff', '1', '2'), 0, '--diff').stdout;
  const lines = text.split('\n').filter(Boolean);
  assert.equal(lines.length, differences.length + 1);
  assert.ok(lines.includes(`+ file          3000  ${escapeBytes(addedName)}`), text);
  assert.ok(lines.includes(`- file  ${String(first.get(invalidName.toString('base64'))!.size).padStart(12)}  ${escapeBytes(invalidName)}`), text);
  assert.ok(lines.some((line) => line.startsWith(`M file      14 -> 27  ${data}/change.txt  (content, size`)), text);
  const adds = [...expected.values()].filter((change) => change === 'added').length;
  const removes = [...expected.values()].filter((change) => change === 'removed').length;
  assert.match(lines.at(-1)!, new RegExp(`^Backup 0000001 -> 0000002: ${adds} added \\(.*\\), ${removes} removed \\(.*\\), ${expected.size - adds - removes} changed \\(\\+.*\\)$`));

  // --find: a name glob, a path glob, and an escaped name; each match with the backup, size and mtime.
  const find = async (pattern: string): Promise<JsonMatch[]> => JSON.parse(exited(await cli('--find', pattern, '--json'), 0, `--find ${pattern}`).stdout) as JsonMatch[];
  const conf = await find('*.conf');
  assert.deepEqual(conf.map((match) => [match.backup, match.path, match.size]), [[2, `${data}/dir/sub.conf`, 12]]);
  assert.equal(conf[0].mtimeNs, String(second.get(name('dir', 'sub.conf').toString('base64'))!.mtimeNs));
  const lineNames = await find('new\\\\x0aline.txt');
  assert.deepEqual(lineNames.map((match) => [match.backup, Buffer.from(match.pathBase64, 'base64').equals(newlineName), match.size]),
    [[1, true, 22], [2, true, 31]]);
  const invalid = await find('bad?x??.txt');
  assert.deepEqual(invalid.map((match) => [match.backup, Buffer.from(match.pathBase64, 'base64').equals(invalidName)]), [[1, true]]);
  const underDir = await find(`${data}/**`);
  assert.deepEqual(new Set(underDir.filter((match) => match.backup === 2).map((match) => match.pathBase64)),
    new Set([...second.keys()].filter((key) => key !== dataBytes.toString('base64'))), '** reaches every depth under data');
  assert.deepEqual(await find('[!k]eep.txt'), []);
  assert.deepEqual((await find('[jk]eep.txt')).map((match) => match.backup), [1, 2]);
  const findText = exited(await cli('--find', '*line*'), 0, '--find text').stdout.split('\n').filter(Boolean);
  assert.equal(findText.length, 3, findText.join('\n'));
  assert.match(findText[0], /^0000001 file +22 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d .*\/new\\x0aline\.txt$/);
  assert.equal(findText[2], '2 entries match in 2 backups');

  // Mistakes are usage errors with one line; an unknown backup names it.
  const missing = exited(await cli('--diff', '1', '9'), 1, '--diff 1 9');
  assert.match(missing.stderr, /client "node1" has no backup 9/);
  assert.match(exited(await cli('--diff', '1'), 2, '--diff 1').stderr, /--diff takes two backup ids/);
  assert.match(exited(await cli('--find', ''), 2, '--find ""').stderr, /--find needs a pattern/);
});

// Regression: process.exit() dropped what was still queued for a pipe, so `-s ID --json | jq` (and
// --diff/--find --json) got the first 64 KiB and broken JSON when the reader was slower than us.
test('long --json outputs reach a slow pipe whole (-s, --diff, --find)', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  await sandbox.startServer();
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'first.txt'), 'one\n');
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  exited(await sandbox.runClient(['-c', config, '-e']), 0, 'backup 1');
  const count = 400;
  for (let index = 0; index < count; index++) await writeFile(join(data, `a-rather-long-file-name-to-make-the-output-big-${index}.txt`), `${index}\n`);
  exited(await sandbox.runClient(['-c', config, '-e']), 0, 'backup 2');
  // The reader starts a second late: by then the pipe is full and the rest waits in the CLI.
  const throughSlowPipe = (...args: string[]): string => {
    const cli = join(__dirname, '..', 'src', 'cli', 'cpsbackup.js');
    const quoted = [process.execPath, cli, '-c', config, ...args].map((arg) => `'${arg}'`).join(' ');
    return execFileSync('sh', ['-c', `${quoted} | { sleep 1; cat; }`], { maxBuffer: 64 * 1024 * 1024 }).toString();
  };
  const show = throughSlowPipe('-s', '2', '--json');
  assert.ok(show.length > 2 * 65536, `output of ${show.length} bytes`);
  assert.equal((JSON.parse(show) as { entries: unknown[] }).entries.length, count + 2);
  const diff = throughSlowPipe('--diff', '1', '2', '--json');
  assert.ok(diff.length > 2 * 65536, `output of ${diff.length} bytes`);
  assert.equal((JSON.parse(diff) as JsonDifference[]).filter((difference) => difference.change === 'added').length, count);
  const find = throughSlowPipe('--find', 'a-rather-*', '--json');
  assert.equal((JSON.parse(find) as JsonMatch[]).length, count);
});
