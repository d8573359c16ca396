// Regression (operator review): `--diff A B` with B incomplete (a folder unreadable when it was made)
// showed the files missing from B as removed, exit 0, without a word that B is incomplete; `--find`
// said nothing either, and `-s` printed only the count of the backup's warnings. Now each says which
// backup is incomplete, how many files it lacks and its warnings (the unreadable paths), before the
// totals (text) or as first elements (--json); `-s` prints the warnings, one escaped line each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox, canDropPermissionBypass } from './support/sandbox';

test('--diff, --find and -s over an incomplete backup say so and name what it lacks', { skip: canDropPermissionBypass ? false : 'needs root to drop the permission bypass for real' }, async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  const closed = join(data, 'd_dir');
  await mkdir(closed, { recursive: true });
  await writeFile(join(data, 'a.txt'), 'readable\n');
  await writeFile(join(closed, 'x'), 'still on disk, only unreadable\n');
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  assert.equal((await sandbox.runClient(['-c', config, '-e'])).code, 0);
  await chmod(closed, 0o000);
  const incomplete = await sandbox.runClient(['-c', config, '-e'], { isWithoutPermissionBypass: true });
  assert.equal(incomplete.code, 3, incomplete.stdout + incomplete.stderr);

  const note = /^note: backup 0000002 is incomplete: 1 file could not be read when it was made and is missing from it \(not gone from the disk\); its warnings:$/m;
  const warning = new RegExp(`^  ${closed}: cannot (open|list) the folder \\(EACCES\\)`, 'm');
  const diff = await sandbox.runClient(['-c', config, '--diff', '1', '2']);
  assert.equal(diff.code, 0, diff.stderr);
  const lines = diff.stdout.trimEnd().split('\n');
  assert.ok(lines.some((line) => line.startsWith('- file') && line.endsWith('/d_dir/x')), diff.stdout);
  assert.match(diff.stdout, note);
  assert.match(diff.stdout, warning);
  assert.match(lines.at(-1)!, /^Backup 0000001 -> 0000002: /, 'the note comes before the totals');
  assert.ok(lines.findIndex((line) => note.test(line)) < lines.length - 1);

  const json = JSON.parse((await sandbox.runClient(['-c', config, '--diff', '1', '2', '--json'])).stdout) as Record<string, unknown>[];
  const [first] = json as { incomplete?: { backup: number; unreadableFiles: number; warnings: string[] } }[];
  assert.equal(first.incomplete?.backup, 2);
  assert.equal(first.incomplete?.unreadableFiles, 1);
  assert.match(first.incomplete?.warnings[0] ?? '', new RegExp(`^${closed}: `));
  assert.ok(json.slice(1).every((element) => typeof element.change === 'string'), 'the rest are the differences');

  const complete = await sandbox.runClient(['-c', config, '--diff', '1', '1']);
  assert.doesNotMatch(complete.stdout, /^note:/m, 'two complete backups: no note');

  const find = await sandbox.runClient(['-c', config, '--find', 'x']);
  assert.equal(find.code, 0, find.stderr);
  assert.match(find.stdout, note);
  assert.match(find.stdout, /^1 entry matches in 1 backup$/m);
  assert.match(find.stdout.trimEnd().split('\n').at(-1)!, /entry matches/);

  const [header, second] = (await sandbox.runClient(['-c', config, '-s', '2'])).stdout.split('\n');
  assert.match(header, /incomplete: 1 unreadable file/);
  assert.match(second, new RegExp(`^warning: ${closed}: cannot (open|list) the folder \\(EACCES\\)`));
});
