// Regression (operations review, finding 1): a PostgreSQL source that is down fails the backup while
// its dump is planned (planDatabaseDumps connects before Begin), so the server never heard of the
// attempt: /status said ok and no failure notification went. Needs psql (postgresql-client) only:
// the database is a closed port on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { startInProcessServer } from './support/in-process-server';
import { clientStatusOf, recordingNotifyScript } from './support/failure-notices';
import { runJob } from '../src/client/daemon/daemon-jobs';
import { createLogger } from '../src/common/logger';
import { DumpFailedError } from '../src/common/errors';
import { loadStorageConfig } from '../src/client/sources/storage-config';

/** A port nothing listens on: taken from the system, then let go. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('a daemon job whose PostgreSQL source is unreachable: /status says failed, one failure notification', async (t) => {
  const recorder = await recordingNotifyScript();
  t.after(() => recorder.remove());
  const fixture = await startInProcessServer(['node1'], [`notify_script = ${recorder.script}`]);
  t.after(() => fixture.stop());
  const root = fixture.sandbox.root;
  await mkdir(join(root, 'data'));
  const storageFile = join(root, 'storage.conf');
  await writeFile(storageFile, `source = shop\nkind = postgresql\ndatabase = shop\nhost = 127.0.0.1\nport = ${await closedPort()}\nuser = nobody\n`);
  const config = await fixture.nodeConfig('node1', [`include = ${join(root, 'data')}`]);
  const logger = createLogger('daemon', () => undefined);
  await assert.rejects(runJob('complete', { config, storage: () => loadStorageConfig(storageFile), logger }, new AbortController().signal),
    DumpFailedError);
  assert.equal((await clientStatusOf(fixture.server.status.url, 'node1')).state, 'failed');
  const notices = await recorder.waitFor(1);
  assert.equal(notices.length, 1, notices.join('\n'));
  assert.match(notices[0], /^failure\t.*failed on the client before it reached the server: .*shop/);
});
