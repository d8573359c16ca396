// Regression (operations review, finding 9): a notify_script that backgrounded a process stalled every
// later notification for ever. The notifier waited for the script's stderr to close, which the
// background process held open; on timeout only the script itself was killed (not what it started),
// and the log said "killed" while the queue still waited. Real scripts, real processes here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../src/common/logger';
import { Notifier } from '../src/server/notify/notifier';
import { failureNotification } from '../src/server/notify/notification';

/** A script that records each call's client, then runs `tail` (shell text); pids of what it started go to pids.txt. */
async function withScript(tail: string, use: (script: string, root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'cpsbackup-notify-bg-'));
  try {
    const script = join(root, 'notify.sh');
    await writeFile(script, `#!/bin/sh\ncat > /dev/null\necho "$CPSBACKUP_CLIENT" >> '${root}/calls.txt'\n${tail}\n`);
    await chmod(script, 0o755);
    await writeFile(join(root, 'calls.txt'), '');
    await writeFile(join(root, 'pids.txt'), '');
    await use(script, root);
  } finally {
    for (const pid of (await readFile(join(root, 'pids.txt'), 'utf8').catch(() => '')).split('\n').filter(Boolean)) {
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* already gone: what the fix should achieve */ }
    }
    await rm(root, { recursive: true, force: true });
  }
}

/** Gone or a zombie (killed, not yet reaped by init) within the time: /proc says which. */
async function isDeadWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
    if (stat === undefined || stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function deliverTwo(script: string, root: string, timeoutMs: number): Promise<{ calls: string[]; log: string[]; elapsedMs: number }> {
  const log: string[] = [];
  const notifier = new Notifier({ script, webhook: undefined, scriptTimeoutMs: timeoutMs }, createLogger('test', (line) => { log.push(line); }));
  const startedAt = performance.now();
  notifier.send(failureNotification('node1', 0, 'first', Date.now()));
  notifier.send(failureNotification('node2', 0, 'second', Date.now()));
  const idle = notifier.idle().then(() => 'idle' as const);
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([idle, new Promise<'stuck'>((resolve) => { timer = setTimeout(() => resolve('stuck'), 3000); })]);
  clearTimeout(timer);
  const calls = (await readFile(join(root, 'calls.txt'), 'utf8')).split('\n').filter(Boolean);
  assert.equal(outcome, 'idle', `the notifier is stuck; calls ${JSON.stringify(calls)}; log ${log.join('')}`);
  return { calls, log, elapsedMs: performance.now() - startedAt };
}

test('a script that backgrounds a process and exits 0 does not hold up the next notification', async () => {
  await withScript(`sleep 1000 &\necho $! >> "$(dirname "$0")/pids.txt"\nexit 0`, async (script, root) => {
    const { calls, log } = await deliverTwo(script, root, 60_000);
    assert.deepEqual(calls, ['node1', 'node2']);
    assert.equal(log.filter((line) => line.includes('notify_script') && line.includes('WARN')).length, 0, log.join(''));
  });
});

test('a script past its timeout is killed with what it started, and the log says so truthfully', async () => {
  await withScript(`sleep 1000 &\necho $! >> "$(dirname "$0")/pids.txt"\nsleep 1000`, async (script, root) => {
    const { calls, log } = await deliverTwo(script, root, 200);
    assert.deepEqual(calls, ['node1', 'node2']);
    const killed = log.filter((line) => line.includes('still running after 0.2 s'));
    assert.equal(killed.length, 2, log.join(''));
    assert.match(killed[0], /killed its process group \d+/);
    // The background sleep of the first script is gone too: it was in the killed group.
    const [firstPid] = (await readFile(join(root, 'pids.txt'), 'utf8')).split('\n');
    assert.equal(await isDeadWithin(Number(firstPid), 1000), true, `process ${firstPid} survived its group's kill`);
  });
});
