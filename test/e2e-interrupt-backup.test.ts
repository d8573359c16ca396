// Regression (red-team review): `kill -TERM` (or -HUP) of a running `cpsbackup -e` killed it on the spot, exit 143
// (129), nothing printed: backup_script_post never ran (it is there to undo what the pre script did: a database
// freeze, a snapshot), and the dumper it had started went on running, orphaned. Only Ctrl-C (SIGINT) was handled.
// SIGTERM comes from kill, timeout, systemd's stop and TimeoutStartSec; SIGHUP from a dropped ssh session. Now each
// stops the backup as the first Ctrl-C does. The real CLI against the real server, with a dumper that stalls, so
// the signal surely lands mid-backup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Sandbox } from './support/sandbox';
import { startClient } from './support/background-client';
import { waitUntil } from './support/fault-tools';

/** Whether any process of the group `groupId` is still there. */
function isGroupAlive(groupId: number): boolean {
  try {
    process.kill(-groupId, 0);
    return true;
  } catch {
    return false;
  }
}

for (const [signal, code] of [['SIGTERM', 143], ['SIGHUP', 129], ['SIGINT', 130]] as const) {
  const named = signal === 'SIGINT' ? 'interrupted' : `interrupted by ${signal}`;
  test(`${signal} during -e: the dumper stopped, backup_script_post told of the failure, nothing committed, exit ${code}`, async (t) => {
    const sandbox = await Sandbox.create();
    const data = join(sandbox.root, 'data');
    await mkdir(data);
    await writeFile(join(data, 'a.txt'), 'hello\n');
    const dumperGroup = join(sandbox.root, 'dumper.pid');
    const storage = join(sandbox.root, 'storage.conf');
    // Its process group is its shell's pid (dumpers run as groups of their own): written first, then 1 MB, then it stalls.
    await writeFile(storage, `source = stalled\nkind = command\ndump = echo $$ > '${dumperGroup}'; head -c 1000000 /dev/zero; sleep 3600\nload = cat > /dev/null\n`);
    const postLog = join(sandbox.root, 'post.log');
    const post = join(sandbox.root, 'post.sh');
    await writeFile(post, `#!/bin/sh\nprintf '%s|%s|%s|%s\\n' "$*" "$CPSBACKUP_OUTCOME" "$CPSBACKUP_ACTION" "$CPSBACKUP_EXIT_CODE" >> '${postLog}'\n`);
    await chmod(post, 0o755);
    await sandbox.startServer();
    const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`, `storage_conf = ${storage}`, `backup_script_post = ${post}`]);
    const backup = startClient(['-c', config, '-e']);
    let groupId: number | undefined;
    t.after(async () => {
      await backup.stop();
      if (groupId !== undefined && isGroupAlive(groupId)) process.kill(-groupId, 'SIGKILL');
      await sandbox.destroy();
    });
    await waitUntil(async () => (await readFile(dumperGroup, 'utf8').catch(() => '')).endsWith('\n'), 'the dumper to start', 30_000, () => backup.output());
    groupId = Number(await readFile(dumperGroup, 'utf8'));
    await sleep(1000);
    assert.ok(backup.isRunning(), `the backup ended although its dumper holds it open:\n${backup.output()}`);
    backup.child.kill(signal);
    const result = await Promise.race([backup.result, sleep(20_000).then(() => undefined)]);
    assert.ok(result !== undefined, `-e did not end within 20 s of its ${signal}:\n${backup.output()}`);
    assert.equal(result.code, code, `stdout: ${result.stdout}\nstderr: ${result.stderr}`);
    assert.equal(result.stderr.trimEnd().split('\n').at(-1), `${named}: nothing was committed`, result.stderr);
    // burp's "post 1 0": failed, no backup.
    assert.deepEqual((await readFile(postLog, 'utf8').catch(() => '')).split('\n').filter(Boolean), [`post 1 0 reserved4 reserved5|failure|backup|${code}`]);
    await waitUntil(() => !isGroupAlive(groupId!), `the dumper's process group ${groupId} to be gone`, 10_000, () => backup.output());
    assert.equal((await sandbox.runClient(['-c', config, '-l'])).stdout, '');
  });
}
