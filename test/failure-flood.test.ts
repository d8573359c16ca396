// Regression (review): a client could flood failure notifications, and the notifier's queue had no
// limit. 1000 ReportFailure calls (or refused Uploads) each queued a notification delivered one at a
// time, so memory grew, the pager was spammed and other clients' notifications waited behind them.
// In process: the real Activity, NotificationRules and Notifier with a counting notify_script.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Activity } from '../src/server/activity';
import { NotificationRules } from '../src/server/notify/notification-rules';
import { Notifier } from '../src/server/notify/notifier';
import { failureNotification } from '../src/server/notify/notification';
import { createLogger } from '../src/common/logger';
import type { ServerContext } from '../src/server/server-context';

async function withScript(body: string, use: (script: string, calls: () => Promise<string[]>) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'cpsbackup-flood-'));
  try {
    const output = join(root, 'calls.txt');
    const script = join(root, 'notify.sh');
    await writeFile(script, `#!/bin/sh\ncat > /dev/null\n${body}\nprintf '%s\\t%s\\n' "$CPSBACKUP_CLIENT" "$CPSBACKUP_OUTCOME" >> '${output}'\n`);
    await chmod(script, 0o755);
    await writeFile(output, '');
    await use(script, async () => (await readFile(output, 'utf8')).split('\n').filter(Boolean));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** What handleReportFailure records per call, after authenticating the client. */
function reportFailure(activity: Activity, clientName: string, reason: string): void {
  activity.record({ clientName, backupNumber: 0, isSuccess: false, at: Date.now(), reason, kind: 'complete' });
}

test('1000 failure reports of one client notify once, and another client\'s failure is still delivered', async () => {
  await withScript('', async (script, calls) => {
    const activity = new Activity(4, 60);
    const lines: string[] = [];
    const logger = createLogger('test', (line) => { lines.push(line); });
    const notifier = new Notifier({ script, webhook: undefined }, logger);
    const context = {
      activity, logger, store: {}, config: { warnAfterSeconds: undefined },
      clients: { current: { records: new Map(), refused: [] } },
    } as unknown as ServerContext;
    const rules = new NotificationRules(context, notifier, Date.now());
    rules.start();
    try {
      for (let call = 0; call < 1000; call++) reportFailure(activity, 'flood', `pre script failed ${call}`);
      reportFailure(activity, 'web', 'dump source refused');
      await notifier.idle();
      const delivered = await calls();
      assert.deepEqual(delivered, ['flood\tfailure', 'web\tfailure']);
      assert.equal(activity.failureOf('flood')?.reason, 'pre script failed 999', 'the status port still has the latest reason');
    } finally {
      rules.stop();
    }
  });
});

test('the notifier\'s queue is bounded: past maxPending deliveries are dropped and counted', async () => {
  await withScript('sleep 0.2', async (script, calls) => {
    const lines: string[] = [];
    const notifier = new Notifier({ script, webhook: undefined, maxPending: 3 }, createLogger('test', (line) => { lines.push(line); }));
    for (let client = 0; client < 250; client++) notifier.send(failureNotification(`client${client}`, 0, 'failed', Date.now()));
    assert.equal(notifier.droppedCount, 247);
    assert.equal(lines.filter((line) => line.includes('dropped')).length, 3, 'the first drop and every hundredth are logged');
    await notifier.idle();
    assert.equal((await calls()).length, 3);
    notifier.send(failureNotification('late', 0, 'failed', Date.now()));
    await notifier.idle();
    assert.equal((await calls()).at(-1), 'late\tfailure', 'room again once the queue drained');
  });
});
