// Regression (operations review, finding 3): a backup kept incomplete (an include vanished, a subtree
// unreadable; -e exits 3 "kept, incomplete") was notified as outcome "success" and shown "ok" on the
// status port, with no metric. And a failed nightly complete followed by a successful partial showed
// ok again, while partials every few minutes kept the last success fresh so overdue never fired.
// Now: state and outcome "incomplete", cpsbackup_client_last_success_unreadable_files, a failed complete
// is cleared by a complete only, and overdue counts from the last complete.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startInProcessServer } from './support/in-process-server';
import { clientStatusOf, recordingNotifyScript } from './support/failure-notices';
import { runJob } from '../src/client/daemon/daemon-jobs';
import { createLogger } from '../src/common/logger';
import { clientStateOf, overdueSince, type ClientFacts } from '../src/server/status/client-state';

test('a backup kept incomplete: state and notification "incomplete", and a metric of the entries left out', async (t) => {
  const recorder = await recordingNotifyScript();
  t.after(() => recorder.remove());
  const fixture = await startInProcessServer(['node1'], [`notify_script = ${recorder.script}`]);
  t.after(() => fixture.stop());
  const data = join(fixture.sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'a.txt'), 'kept\n');
  const config = await fixture.nodeConfig('node1', [`include = ${data}`, `include = ${join(fixture.sandbox.root, 'vanished')}`]);
  await runJob('complete', { config, storage: () => undefined, logger: createLogger('daemon', () => undefined) }, new AbortController().signal);

  const status = await clientStatusOf(fixture.server.status.url, 'node1');
  assert.equal(status.state, 'incomplete', JSON.stringify(status));
  assert.equal(status.lastSuccess?.unreadableFiles, 1);
  const notices = await recorder.waitFor(1);
  assert.equal(notices.length, 1, notices.join('\n'));
  assert.match(notices[0], /^incomplete\tbackup 1 of node1 was kept INCOMPLETE: 1 entry could not be read/);
  const metrics = await (await fetch(`${fixture.server.status.url}/metrics`)).text();
  assert.match(metrics, /^cpsbackup_client_last_success_unreadable_files\{client="node1"\} 1$/m);
  assert.match(metrics, /^cpsbackup_client_state\{client="node1",state="incomplete"\} 1$/m);
});

test('a failed complete stays failed through a successful partial; a complete clears it', async (t) => {
  const fixture = await startInProcessServer();
  t.after(() => fixture.stop());
  const root = fixture.sandbox.root;
  const data = join(root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'a.txt'), 'data\n');
  const pre = join(root, 'pre.sh');
  const preExits = async (code: number) => { await writeFile(pre, `#!/bin/sh\nexit ${code}\n`); await chmod(pre, 0o755); };
  await preExits(0);
  const config = await fixture.nodeConfig('node1', [`include = ${data}`, `backup_script_pre = ${pre}`]);
  const job = (name: 'complete' | 'partial') => runJob(name, { config, storage: () => undefined, logger: createLogger('daemon', () => undefined) },
    new AbortController().signal);
  const state = async () => (await clientStatusOf(fixture.server.status.url, 'node1')).state;

  await job('complete');
  assert.equal(await state(), 'ok');
  await preExits(1);
  await assert.rejects(job('complete'));
  assert.equal(await state(), 'failed');
  await preExits(0);
  await job('partial');
  assert.equal(await state(), 'failed', 'a partial does not make up for the complete that failed');
  await job('complete');
  assert.equal(await state(), 'ok');
});

test('overdue counts from the last complete backup, not from the partials after it', () => {
  const hour = 3600_000;
  const now = 100 * hour;
  const facts: ClientFacts = {
    isRunning: false, lastSuccessAt: now - 60_000, lastCompleteSuccessAt: now - 30 * hour,
    lastFailureAt: undefined, warnAfterSeconds: 26 * 3600, serverStartedAt: 0,
  };
  assert.equal(overdueSince(facts, now), now - 4 * hour);
  assert.equal(clientStateOf(facts, now), 'overdue');
  // A failed partial is cleared by any later backup.
  assert.equal(clientStateOf({ ...facts, lastCompleteSuccessAt: now - hour, lastFailureAt: now - 2 * 60_000, lastFailureKind: 'partial' }, now), 'ok');
});
