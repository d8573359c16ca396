// Protected backups (issue 16): a protected backup survives keep = 1 and refuses -d (even --force);
// after --unprotect the next retention removes it. The server's protect/unprotect commands do the same
// on a stopped server, and -l (text and --json) shows the mark.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import { writeDeterministicFile } from './support/trees';

interface ListedBackup { id: number; isProtected: boolean; deletable: boolean }

test('a protected backup outlives retention and -d until it is unprotected', async (t) => {
  const sandbox = await Sandbox.create({ serverLines: ['keep = 1'] });
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  await writeDeterministicFile(join(data, 'file.bin'), 'protected', 50_000);
  await sandbox.startServer();
  const node = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const run = (args: string[]) => sandbox.runClient(['-c', node, ...args]);
  const expectOk = async (args: string[]): Promise<string> => {
    const result = await run(args);
    assert.equal(result.code, 0, `cpsbackup ${args.join(' ')} failed:\n${result.stdout}${result.stderr}`);
    return result.stdout;
  };
  const listed = async (): Promise<ListedBackup[]> => JSON.parse(await expectOk(['-l', '--json'])) as ListedBackup[];

  await expectOk(['-e']);
  const protectedLine = await expectOk(['--protect', '1']);
  assert.match(protectedLine, /^Backup: 0000001 .*\(protected\)$/m);
  await expectOk(['-e']);
  assert.deepEqual((await listed()).map(({ id, isProtected, deletable }) => ({ id, isProtected, deletable })), [
    { id: 1, isProtected: true, deletable: false },
    { id: 2, isProtected: false, deletable: false },
  ], 'keep = 1 kept the newest, and the protected one beside it');
  assert.match(await expectOk(['-l']), /^Backup: 0000001 \S+ \S+ complete \(protected\)$/m);

  for (const args of [['-d', '1'], ['-d', '1', '--force']]) {
    const refused = await run(args);
    assert.equal(refused.code, 12, `${args.join(' ')}: ${refused.stdout}${refused.stderr}`);
    assert.match(refused.stderr, /backup 1 of client "node1" is protected; unprotect it first \(cpsbackup --unprotect 1/);
  }

  await expectOk(['--unprotect', '1']);
  assert.deepEqual((await listed()).map((backup) => backup.id), [1, 2], 'unprotecting deletes nothing by itself');
  await expectOk(['-e']);
  assert.deepEqual((await listed()).map((backup) => backup.id), [3], 'the next retention removed the unprotected backup');

  await t.test('cpsbackup-server protect / unprotect on the stopped server', async () => {
    await sandbox.runningServer!.stop();
    const protect = await sandbox.runServerCommand(['protect', 'node1', '3']);
    assert.equal(protect.code, 0, protect.stderr);
    assert.match(protect.stdout, /backup 0000003 of node1 protected/);
    const missing = await sandbox.runServerCommand(['protect', 'node1', '99']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /client "node1" has no backup 99/);
    await sandbox.startServer();
    const restarted = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
    const afterProtect = JSON.parse((await sandbox.runClient(['-c', restarted, '-l', '--json'])).stdout) as ListedBackup[];
    assert.deepEqual(afterProtect.map(({ id, isProtected }) => ({ id, isProtected })), [{ id: 3, isProtected: true }]);
    await sandbox.runningServer!.stop();
    const unprotect = await sandbox.runServerCommand(['unprotect', 'node1', '3']);
    assert.equal(unprotect.code, 0, unprotect.stderr);
    assert.match(unprotect.stdout, /backup 0000003 of node1 unprotected/);
  });
});
