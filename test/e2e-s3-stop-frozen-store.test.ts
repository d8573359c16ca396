// Regression (red team reds3): with the object store frozen (radosgw SIGSTOPped: connections taken, nothing answered),
// a server asked to stop with SIGTERM, and again 20 s later, logged "SIGTERM again: cutting the running calls now" and
// ran on for 21 minutes: closing the store waited for its last catalog snapshot and its lease release, each request
// retried for minutes. A second signal now gives the store 10 s to close once the calls are cut, then the server exits
// saying why, and the next start, the gateway back, recovers: the backup restores.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import { cephSkipReason, startCeph, useEncryptedBucket, type CephCluster } from './support/ceph';
import { writeDeterministicFile } from './support/trees';
import { backupNow } from './support/fault-tools';

const skip = cephSkipReason();
const BUCKET = 'cpsbackup-stop-frozen';

describe('a second SIGTERM stops a server whose object store does not answer', { skip }, () => {
  let cluster: CephCluster;

  before(async () => {
    cluster = await startCeph();
  });
  after(async () => {
    await cluster?.thawGateway().catch(() => undefined);
    await cluster?.stop();
  });

  test('within seconds of the second signal, saying why; the next start recovers and the backup restores', async () => {
    const sandbox = await Sandbox.create();
    try {
      await useEncryptedBucket(sandbox, cluster, BUCKET, 'frozen/');
      const data = join(sandbox.root, 'data');
      await writeDeterministicFile(join(data, 'a.bin'), 'stop-frozen', 300_000);
      const server = await sandbox.startServer();
      const configFile = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
      await backupNow(sandbox, configFile, data);

      await cluster.freezeGateway();
      const exited = new Promise<number | null>((resolve) => server.process.once('exit', (code) => resolve(code)));
      server.process.kill('SIGTERM');
      await new Promise((done) => setTimeout(done, 2000));
      const secondAt = Date.now();
      server.process.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<'running'>((done) => setTimeout(() => done('running'), 60_000))]);
      await cluster.thawGateway();
      assert.notEqual(code, 'running', `the server still ran 60 s after its second SIGTERM:\n${server.log()}`);
      await server.stop();
      assert.ok(Date.now() - secondAt < 30_000, `${Date.now() - secondAt} ms after the second signal`);
      assert.equal(code, 1, server.log());
      assert.match(server.log(), /the store has not closed 10 s after the calls were cut .*: exiting without closing it/);

      await sandbox.startServer();
      const restart = await sandbox.writeNodeConfig('node1', [`include = ${data}`]); // the new server's port
      const target = join(sandbox.root, 'out');
      const restore = await sandbox.runClient(['-c', restart, '-i', '1', '--to', target]);
      assert.equal(restore.code, 0, restore.stdout + restore.stderr + sandbox.runningServer!.log());
      assert.ok((await readFile(join(target, data, 'a.bin'))).equals(await readFile(join(data, 'a.bin'))));
    } finally {
      await sandbox.destroy();
    }
  });
});
