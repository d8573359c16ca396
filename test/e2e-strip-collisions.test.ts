// Regression (red-team review): -i --strip 2 of T/2025/ and T/2026/ made T/2025/report.txt and
// T/2026/report.txt one report.txt: with --overwrite the second silently replaced the first (exit 0, 3 files
// counted), a 0700 folder merged into the first 0755 one left it 0755 without a word, and without
// --overwrite the restore advised --overwrite, whose use lost a file. Proves through the real CLI and
// server that under every policy the first stays, the second is reported as a collision (exit 3), the
// first folder keeps its mode, and the summary counts only what was restored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';

test('--strip making two entries one path: the first restored, the second reported as a collision under every policy', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'T');
  for (const year of ['2025', '2026']) {
    await mkdir(join(data, year, 'private'), { recursive: true });
    await writeFile(join(data, year, 'report.txt'), `report ${year}\n`);
    await writeFile(join(data, year, 'private', `notes-${year}`), `notes ${year}\n`);
  }
  await chmod(join(data, '2025', 'private'), 0o755);
  await chmod(join(data, '2026', 'private'), 0o700);
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const run = (args: string[]) => sandbox.runClient(['-c', config, ...args]);
  const backup = await run(['-e']);
  assert.equal(backup.code, 0, backup.stderr);

  const strip = String(data.split('/').filter(Boolean).length + 1); // down to 2025/ and 2026/
  for (const overwrite of [[], ['--overwrite'], ['--overwrite=if-newer']]) {
    const target = join(sandbox.root, `S${overwrite.join('')}`);
    const restore = await run(['-i', '--to', target, '--strip', strip, ...overwrite]);
    const said = restore.stdout + restore.stderr;
    assert.equal(restore.code, 3, said);
    assert.ok(said.includes(`${join(target, 'report.txt')}: ${join(data, '2026', 'report.txt')} and an entry of the backup before it land on one path here (--strip ${strip}`), said);
    assert.ok(said.includes(`${join(target, 'private')}: ${join(data, '2025', 'private')} and ${join(data, '2026', 'private')} of the backup land on one path here`), said);
    assert.ok(!said.includes('--overwrite replaces'), `no advice that loses a file: ${said}`);
    assert.equal(await readFile(join(target, 'report.txt'), 'utf8'), 'report 2025\n');
    assert.equal((await stat(join(target, 'private'))).mode & 0o7777, 0o755, 'the first folder keeps its mode');
    assert.equal(await readFile(join(target, 'private', 'notes-2026'), 'utf8'), 'notes 2026\n', 'what is in both folders is merged');
    // report.txt, notes-2025, notes-2026: the second report.txt is not counted.
    assert.match(restore.stdout, /: 3 files, /, said);
  }
});
