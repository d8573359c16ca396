// Regression (review): --include could not name a path whose name is not valid UTF-8, nor any path
// spelled as -s prints it: "bad\xff\xfename", "new\x0aline" and "back\\slash" copied from -s matched
// nothing (and the "not in backup" message escaped the backslashes again), and raw bytes from
// $(printf ...) were lost in Node's UTF-8 decoding of argv. Proves each restores alone, by the real CLI;
// and -r, which matched a UTF-8 decoding of the path, matches it as -s lists it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { escapeBytes } from '../src/common/escape-bytes';
import { runNode, Sandbox } from './support/sandbox';

const CLI = resolve(__dirname, '..', 'src', 'cli', 'cpsbackup.js');

test('--include takes a path as -s lists it, and as raw bytes', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  const names = [
    Buffer.concat([Buffer.from('bad'), Buffer.from([0xff, 0xfe]), Buffer.from('name')]),
    Buffer.from('new\nline'),
    Buffer.from('back\\slash'),
    Buffer.from('plain'),
    // Reads as names[0] once decoded as UTF-8 (both bytes become U+FFFD): -r must tell them apart.
    Buffer.concat([Buffer.from('bad'), Buffer.from([0xfe, 0xff]), Buffer.from('name')]),
  ];
  const pathOf = (name: Buffer): Buffer => Buffer.concat([Buffer.from(`${data}/`), name]);
  for (const name of names) await writeFile(pathOf(name), Buffer.concat([Buffer.from('content of '), name]));
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const run = (args: string[]) => sandbox.runClient(['-c', config, ...args]);
  const backup = await run(['-e']);
  assert.equal(backup.code, 0, backup.stderr);
  const listed = await run(['-s', '1']);
  assert.equal(listed.code, 0, listed.stderr);

  /** Only this name came back, with its content. */
  const assertRestoredAlone = async (target: string, name: Buffer): Promise<void> => {
    const restored = await readdir(Buffer.from(join(target, data)), { encoding: 'buffer' });
    assert.deepEqual(restored.map(escapeBytes), [escapeBytes(name)]);
    assert.deepEqual(await readFile(Buffer.concat([Buffer.from(target), pathOf(name)])), Buffer.concat([Buffer.from('content of '), name]));
  };

  for (const [index, name] of names.entries()) {
    const spelled = escapeBytes(pathOf(name));
    assert.ok(listed.stdout.split('\n').some((line) => line.endsWith(` ${spelled}`)), `-s lists ${spelled}:\n${listed.stdout}`);
    const target = join(sandbox.root, `as-listed-${index}`);
    const restore = await run(['-i', '--to', target, '--include', spelled]);
    assert.equal(restore.code, 0, `--include ${spelled}: ${restore.stdout}${restore.stderr}`);
    await assertRestoredAlone(target, name);
  }

  // Raw bytes, as a shell passes them: Node shows them as U+FFFD, the command line still holds them.
  const rawTarget = join(sandbox.root, 'raw');
  const rawInclude = `${data}/bad\\377\\376name`; // printf's octal escapes
  const raw = await runNode(CLI, ['-c', config, '-i', '--to', rawTarget], 120_000,
    ['env', `RAW_INCLUDE=${rawInclude}`, 'sh', '-c', 'exec "$@" --include "$(printf "$RAW_INCLUDE")"', 'sh']);
  assert.equal(raw.code, 0, raw.stdout + raw.stderr);
  await assertRestoredAlone(rawTarget, names[0]);
  const rawEquals = await runNode(CLI, ['-c', config, '-i', '--to', `${rawTarget}-equals`], 120_000,
    ['env', `RAW_INCLUDE=${rawInclude}`, 'sh', '-c', 'exec "$@" "--include=$(printf "$RAW_INCLUDE")"', 'sh']);
  assert.equal(rawEquals.code, 0, rawEquals.stdout + rawEquals.stderr);
  await assertRestoredAlone(`${rawTarget}-equals`, names[0]);

  // -r matches the path as -s lists it: a byte that is not UTF-8 as \xNN, so each such name is told
  // from its twin; U+FFFD (what a UTF-8 decoding would show) matches neither (found by review).
  const byPattern = join(sandbox.root, 'by-pattern');
  const matched = await run(['-i', '--to', byPattern, '-r', 'bad\\\\xff\\\\xfename$']);
  assert.equal(matched.code, 0, matched.stdout + matched.stderr);
  await assertRestoredAlone(byPattern, names[0]);
  const decoded = await run(['-i', '--to', join(sandbox.root, 'by-decoded'), '-r', 'bad\ufffd\ufffdname$']);
  assert.equal(decoded.code, 3, decoded.stdout + decoded.stderr);
  assert.match(decoded.stderr, /no path in backup 0000001 matches it/);

  // A path the backup does not hold is named as -s would list it, not escaped twice.
  const missing = await run(['-i', '--to', join(sandbox.root, 'missing'), '--include', `${data}/gone\\xff`]);
  assert.equal(missing.code, 3, missing.stderr);
  assert.ok(missing.stderr.includes(`${data}/gone\\xff: not in backup 0000001`), missing.stderr);

  // A malformed escape is refused (exit 2), naming the option and the value, never read as some other path.
  for (const bad of [`${data}/bad\\x4`, `${data}/a\\qb`, `${data}/trailing\\`]) {
    const refused = await run(['-i', '--to', join(sandbox.root, 'refused'), '--include', bad]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /--include/);
    assert.ok(refused.stderr.includes(bad), refused.stderr);
    assert.match(refused.stderr, /is not an escape: write a backslash as "\\\\" and a byte as "\\xNN"/);
  }
});
