// Regression: a failure message holding a NUL byte (a pre script's or a dumper's stderr quoted in it)
// went raw into the post script's CPSBACKUP_ERROR; spawn() threw synchronously on it, so the post script
// (the thaw after a freeze) never ran and the backup's own error turned into an "internal error" with a
// stack. Now no message reaches an environment value with a NUL, and a spawn() that refuses its
// arguments is a start failure like any other, whoever started the process (hook, dumper, loader).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withScripts } from '../src/client/hooks/with-scripts';
import { startProcess } from '../src/client/sources/child-process';
import { ScriptFailedError } from '../src/common/errors';

async function script(folder: string, name: string, body: string): Promise<string> {
  const path = join(folder, name);
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

test('a pre script whose stderr holds a NUL fails the run with its own error, and the post script still runs', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-nul-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const marker = join(folder, 'post.log');
  const pre = await script(folder, 'pre.sh', `printf 'x\\0y' >&2; exit 1`);
  const post = await script(folder, 'post.sh', `printf '%s|%s\\n' "$2" "$CPSBACKUP_ERROR" >> '${marker}'`);
  const problems: string[] = [];
  let hasBodyRun = false;
  await assert.rejects(withScripts({ action: 'backup', configFile: join(folder, 'node.conf'), pre: { path: pre, args: [] }, post: { path: post, args: [] } },
    async () => {
      hasBodyRun = true;
      return { backupId: 1, exitCode: 0 };
    }, (problem) => problems.push(problem)),
  (error: unknown) => error instanceof ScriptFailedError && /backup_script_pre .*pre\.sh exited with code 1/.test(error.message));
  assert.equal(hasBodyRun, false, 'nothing started after the failed pre script');
  assert.deepEqual(problems, [], 'the post script ran and succeeded');
  const logged = await readFile(marker, 'utf8');
  assert.match(logged, /^1\|backup_script_pre .*pre\.sh exited with code 1:\nx\\x00y\nbackup not started/, 'told the failure, the NUL escaped');
});

test('a body failing with a NUL in its message keeps that error, and the post script hears it', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-nul-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const marker = join(folder, 'post.log');
  const post = await script(folder, 'post.sh', `printf '%s\\n' "$CPSBACKUP_ERROR" >> '${marker}'`);
  const failure = new Error('dump source db: exited with code 2\nbad\0byte');
  await assert.rejects(withScripts({ action: 'backup', configFile: join(folder, 'node.conf'), post: { path: post, args: [] } },
    () => Promise.reject(failure), () => undefined), (error: unknown) => error === failure);
  assert.equal(await readFile(marker, 'utf8'), 'dump source db: exited with code 2\nbad\\x00byte\n');
});

test('a process spawn() refuses (a NUL in an argument or the environment) ends as not started, never as a throw', async () => {
  for (const [args, env] of [[['a\0b'], undefined], [[], { ...process.env, VALUE: 'a\0b' }]] as const) {
    const running = startProcess('/bin/true', args, { stdin: 'pipe', stdout: 'capture', timeoutSeconds: 5, env });
    const outcome = await running.outcome;
    assert.match(outcome.startError ?? '', /null bytes/);
    assert.equal(running.stdin, undefined);
    running.kill();
  }
});
