// Regression (security review): a notify_script that spawn refused crashed the server. spawn throws,
// not emits, for a value it refuses (a NUL in the script's environment or path); inside the promise's
// executor that rejected the notifier's queue, nothing caught it, and Node 20 exits on an unhandled
// rejection. Every later notification was skipped too. Real spawns of a real script here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../src/common/logger';
import { Notifier } from '../src/server/notify/notifier';
import { failureNotification, type Notification } from '../src/server/notify/notification';
import { ENVIRONMENT_VALUE_LENGTH } from '../src/server/notify/notify-script';

async function withScript(use: (script: string, calls: () => Promise<string[]>) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'cpsbackup-notifier-'));
  try {
    const output = join(root, 'calls.txt');
    const script = join(root, 'notify.sh');
    await writeFile(script, `#!/bin/sh\ncat > /dev/null\nprintf '%s\\t%s\\n' "$CPSBACKUP_CLIENT" "$CPSBACKUP_SUMMARY" >> '${output}'\n`);
    await chmod(script, 0o755);
    await writeFile(output, '');
    await use(script, async () => (await readFile(output, 'utf8')).split('\n').filter(Boolean));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

function captured(): { readonly lines: string[]; readonly logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, logger: createLogger('test', (line) => { lines.push(line); }) };
}

/** What a builder would never make (a raw NUL and line feed): the script's environment must still be safe. */
function rawNotification(client: string, summary: string): Notification {
  return { ...failureNotification(client, 0, 'reason', Date.now()), summary };
}

test('a notification whose text spawn would refuse is delivered escaped, and the next one is delivered too', async () => {
  await withScript(async (script, calls) => {
    const { lines, logger } = captured();
    const notifier = new Notifier({ script, webhook: undefined }, logger);
    notifier.send(rawNotification('node1', `x\u0000y\nforged\t${'z'.repeat(10_000)}`));
    notifier.send(rawNotification('node2', 'fine'));
    await notifier.idle();
    const made = await calls();
    assert.equal(made.length, 2, `script calls: ${JSON.stringify(made)}\nlog: ${lines.join('')}`);
    const [client, summary] = made[0].split('\t');
    assert.equal(client, 'node1');
    assert.match(summary, /^x\\x00y\\x0aforged\\x09z+…$/);
    // Cut to ENVIRONMENT_VALUE_LENGTH characters, then three escapes of one character into four, then "…".
    assert.equal(summary.length, ENVIRONMENT_VALUE_LENGTH + 3 * 3 + 1);
    assert.equal(made[1], 'node2\tfine');
  });
});

test('a script spawn throws for is logged, idle() resolves, and later notifications are still tried', async () => {
  await withScript(async (script) => {
    const { lines, logger } = captured();
    // A path with a NUL: spawn throws ERR_INVALID_ARG_VALUE synchronously, as it did for the environment.
    const notifier = new Notifier({ script: `${script}\u0000`, webhook: undefined }, logger);
    notifier.send(rawNotification('node1', 'first'));
    notifier.send(rawNotification('node2', 'second'));
    await notifier.idle();
    const failures = lines.filter((line) => line.includes('could not start'));
    assert.equal(failures.length, 2, lines.join(''));
    assert.match(failures[1], /\(failure node2\) could not start: .*null bytes/);
  });
});

test('a script that does not exist is logged, and the queue goes on', async () => {
  const { lines, logger } = captured();
  const notifier = new Notifier({ script: '/nonexistent/cpsbackup-notify', webhook: undefined }, logger);
  notifier.send(rawNotification('node1', 'first'));
  notifier.send(rawNotification('node2', 'second'));
  await notifier.idle();
  assert.equal(lines.filter((line) => line.includes('could not start')).length, 2, lines.join(''));
});
