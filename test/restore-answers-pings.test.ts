// Regression: a restore of many small files dropped its connection on a busy machine ("the connection to
// the backup server … dropped", 200,000 files at load 24). Every file of a batch (up to 1,024) was written
// by synchronous system calls, its content decoded ahead, and the next batches were already buffered: the
// event loop did not turn for as long as the client took to write them, so it answered no HTTP/2 ping, and
// the server's keepalive (network_timeout) gave the connection up. Here each openat of the in-process
// restore takes 8 ms (a slow disk, a starved CPU): 1,100 files held the loop for 9 s and more at once.
// The loop must turn all along (no stall of 2 s), and the restore end normally, byte for byte, against a
// server with network_timeout = 6 (a ping 3 s after the last answer, 3 s for the next).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Sandbox } from './support/sandbox';
import { backupNow } from './support/fault-tools';
import { snapshotTree, treeDifferences } from './support/trees';
import { posixAddon } from '../src/client/posix/addon';
import { loadNodeConfig } from '../src/common/config/node-config';
import { runRestore } from '../src/client/restorer';

const FILES = 1100;
const OPENAT_MS = 8;

test(`a restore whose every openat takes ${OPENAT_MS} ms keeps its event loop turning and answers the server's pings (network_timeout = 6)`, { timeout: 120_000 }, async (t) => {
  const sandbox = await Sandbox.create({ serverLines: ['network_timeout = 6'] });
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await Promise.all(Array.from({ length: FILES }, (_, index) => writeFile(join(data, `f${index}`), `file ${index}\n`)));
  const server = await sandbox.startServer();
  const configFile = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const backup = await backupNow(sandbox, configFile, data);

  const addon = posixAddon() as unknown as Record<string, unknown>;
  const openat = addon.openat as (...args: unknown[]) => number;
  t.after(() => { addon.openat = openat; });
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  let slowCalls = 0;
  addon.openat = (...args: unknown[]): number => {
    slowCalls++;
    Atomics.wait(sleeper, 0, 0, OPENAT_MS); // blocks this thread, as a slow system call does
    return openat(...args);
  };
  const target = join(sandbox.root, 'restored');
  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  loopDelay.enable();
  const result = await runRestore(loadNodeConfig(configFile), { backupId: backup.number, to: target }).catch((error: unknown) => {
    assert.fail(`the restore failed: ${String(error)}\nserver log:\n${server.log()}`);
  });
  addon.openat = openat;
  // A stall is recorded when the loop turns again: after the restore's last one too.
  await sleep(100);
  loopDelay.disable();
  const longestStallMs = loopDelay.max / 1e6;
  assert.ok(longestStallMs < 2000, `the event loop stood still for ${Math.round(longestStallMs)} ms during the restore`);
  assert.ok(slowCalls >= FILES, `${slowCalls} slowed openat calls: the files were written through them`);
  assert.equal(result.progress.files, FILES);
  assert.deepEqual(result.failures, []);
  assert.deepEqual(treeDifferences(backup.snapshot, await snapshotTree(join(target, data))), []);
});
