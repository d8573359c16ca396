// Regression: a receiver (`-i --client prod --if-new`, and the daemon's receive job) applied an incomplete
// backup of prod (a file unreadable when it was made) and exited 0, while -i on the same backup warned
// and exited 3. Now both warn, naming the backup; the one-shot command exits 3, also on a later run that
// finds nothing newer; the daemon logs a warning and keeps running; a clean backup after it exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canDropPermissionBypass, Sandbox, type CommandResult } from './support/sandbox';
import { waitUntil } from './support/fault-tools';
import { startClient, type BackgroundClient } from './support/background-client';

const WARNING = /^warning: backup 0000001 is incomplete: 1 file was not saved in it \(unreadable when it was made, or removed by check --repair\)/m;

function expectCode(result: CommandResult, code: number, what: string): CommandResult {
  assert.equal(result.code, code, `${what} exited ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

test('a receiver warns about an incomplete backup and exits 3 until a complete one replaces it; the daemon warns and goes on', {
  skip: canDropPermissionBypass ? false : 'needs root to drop the permission bypass for real',
}, async (t) => {
  const sandbox = await Sandbox.create({ clients: ['prod'] });
  await sandbox.addClient('replica', ['restore_client = prod']);
  await sandbox.addClient('mirror', ['restore_client = prod']);
  let daemon: BackgroundClient | undefined;
  t.after(async () => {
    await daemon?.stop();
    await sandbox.destroy();
  });
  await sandbox.startServer();
  const data = join(sandbox.root, 'prod', 'data');
  await mkdir(data, { recursive: true });
  await writeFile(join(data, 'fine.txt'), 'fine\n');
  await writeFile(join(data, 'secret.txt'), 'no one may read this\n');
  await chmod(join(data, 'secret.txt'), 0o000);
  const prod = await sandbox.writeNodeConfig('prod', [`include = ${data}`]);
  const receiveTo = join(sandbox.root, 'replica-files');
  const replica = await sandbox.writeNodeConfig('replica', ['receive_files = 1', `receive_to = ${receiveTo}`]);
  const receive = (): Promise<CommandResult> => sandbox.runClient(['-c', replica, '-i', '--client', 'prod', '--if-new']);

  expectCode(await sandbox.runClient(['-c', prod, '-e'], { isWithoutPermissionBypass: true }), 3, 'prod -e with an unreadable file');

  await t.test('the receive applies what the backup holds, warns as -i does, exits 3', async () => {
    const result = expectCode(await receive(), 3, 'receive of the incomplete backup');
    assert.match(result.stderr, WARNING);
    assert.match(result.stdout, /^Received backup 1 of prod: .*; backup 1 recorded as applied \(incomplete: 1, see the warning above\)$/m);
    assert.equal(await readFile(join(receiveTo, data, 'fine.txt'), 'utf8'), 'fine\n');
  });

  await t.test('the next run finds nothing newer: not applied again, but still the warning and exit 3', async () => {
    const result = expectCode(await receive(), 3, 'second receive');
    assert.match(result.stdout, /^Nothing new: backup 1 of prod \(complete, incomplete\) is already applied$/m);
    assert.match(result.stderr, WARNING);
  });

  await t.test('the daemon\'s receive job logs the warning and keeps running', async () => {
    const mirror = await sandbox.writeNodeConfig('mirror', ['receive_files = 1', `receive_to = ${join(sandbox.root, 'mirror-files')}`,
      'schedule_receive = * * * * * *', 'receive_client = prod']);
    const running = startClient(['daemon', '-c', mirror]);
    daemon = running;
    await waitUntil(() => / warn receive: nothing new from prod \(last applied: 1, incomplete: 1\)/.test(running.output()),
      'the daemon\'s run after the one that applied backup 1', 90_000);
    running.child.kill('SIGTERM');
    const { code } = await running.result;
    const output = running.output();
    assert.equal(code, 0, output);
    assert.match(output, / warn receive: backup 0000001 is incomplete: 1 file was not saved in it /);
    assert.match(output, / warn receive: applied backups 1 from prod \(incomplete: 1\)$/m);
    assert.doesNotMatch(output, / error /, output);
  });

  await t.test('a complete backup received after it: exit 0, no warning', async () => {
    await chmod(join(data, 'secret.txt'), 0o644);
    expectCode(await sandbox.runClient(['-c', prod, '-e']), 0, 'prod -e, everything readable');
    const result = expectCode(await receive(), 0, 'receive of the complete backup');
    assert.doesNotMatch(result.stderr, /incomplete/);
    assert.equal(await readFile(join(receiveTo, data, 'secret.txt'), 'utf8'), 'no one may read this\n');
    const again = expectCode(await receive(), 0, 'receive with nothing new');
    assert.match(again.stdout, /^Nothing new: backup 2 of prod \(complete\) is already applied$/m);
  });
});
