// Regression (operator review): check, gc, retention and protect on a folder with no store (a typo in
// `directory =`, a backup disk that did not mount) made one there and answered for it: `check --read-data`
// said "no errors found", exit 0, with catalog.db, reserve/ and staging/ written into the folder (on an
// unmounted disk: onto the root file system). Every offline command now says `no store in DIR`, exit 1,
// and makes nothing; only the server's first start makes a store, and it logs that it did, loudly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import { exists } from './support/temp-folder';
import { loadServerConfig } from '../src/common/config/server-config';
import { openConfiguredStore } from '../src/server/open-store';
import type { Logger } from '../src/common/logger';
import { createKeyFile } from '../src/chunkstore/crypto/key-file';

const OFFLINE_COMMANDS: readonly (readonly string[])[] = [
  ['check'], ['check', '--read-data'], ['gc'], ['retention'], ['retention', '--dry-run'], ['protect', 'node1', '1'], ['unprotect', 'node1', '1'],
];

async function pointServerAt(sandbox: Sandbox, directory: string, extraLines: readonly string[] = []): Promise<void> {
  const conf = await readFile(sandbox.serverConfigFile, 'utf8');
  await writeFile(sandbox.serverConfigFile, conf.replace(/^directory = .*$/m, `directory = ${directory}`) + extraLines.map((line) => `${line}\n`).join(''));
}

test('check, gc, retention and protect refuse a folder with no store and make nothing there', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const emptyMount = join(sandbox.root, 'emptymnt');
  await mkdir(emptyMount);
  const absent = join(sandbox.root, 'no-such-folder');
  for (const [directory, isThere] of [[emptyMount, true], [absent, false]] as const) {
    await pointServerAt(sandbox, directory);
    for (const args of OFFLINE_COMMANDS) {
      const result = await sandbox.runServerCommand(args);
      const what = `${args.join(' ')} on ${directory}`;
      assert.equal(result.code, 1, `${what}: ${result.stdout}${result.stderr}`);
      assert.match(result.stderr, new RegExp(`no store in ${directory} \\(no catalog\\.db there\\)`), what);
      assert.doesNotMatch(result.stdout, /no errors found/, what);
      if (isThere) assert.deepEqual(await readdir(directory), [], `${what}: nothing made there`);
      else assert.equal(await exists(directory), false, `${what}: the folder is not made`);
    }
  }
});

test('on a bucket store, a folder without the catalog is no store either: recover rebuilds it, nothing is asked of the bucket', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const credentials = join(sandbox.root, 's3-credentials');
  await writeFile(credentials, 'access_key_id = test\nsecret_access_key = test\n', { mode: 0o600 });
  const keyFile = join(sandbox.root, 'store.key');
  await createKeyFile(keyFile);
  const directory = join(sandbox.root, 'emptymnt');
  await mkdir(directory);
  // Nothing listens on port 9: a command that reached for the bucket would fail with another message.
  await pointServerAt(sandbox, directory, ['storage = s3', 's3_endpoint = http://127.0.0.1:9', 's3_bucket = no-bucket', `s3_credentials_file = ${credentials}`, `encryption_key_file = ${keyFile}`]);
  for (const args of [['check'], ['gc'], ['retention'], ['protect', 'node1', '1']]) {
    const result = await sandbox.runServerCommand(args);
    assert.equal(result.code, 1, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
    assert.match(result.stderr, /no store in .*emptymnt \(no catalog\.db there\): a bucket's catalog is rebuilt here by `cpsbackup-server recover`/);
    assert.deepEqual(await readdir(directory), [], `${args.join(' ')}: nothing made there`);
  }
});

test('the server makes a new store only at its first start, and says so with the folder; check then finds it', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const config = loadServerConfig(sandbox.serverConfigFile);
  const warnings: string[] = [];
  const logger: Logger = { info: () => undefined, warn: (message) => warnings.push(message), error: () => undefined };
  const store = await openConfiguredStore(config, { encoderThreads: 0, logger });
  await store.close();
  assert.equal(warnings.filter((line) => line.startsWith(`created a NEW, empty store in ${sandbox.storeDirectory} `)).length, 1, warnings.join('\n'));
  const again = await openConfiguredStore(config, { encoderThreads: 0, logger });
  await again.close();
  assert.equal(warnings.filter((line) => line.includes('NEW')).length, 1, 'an existing store is opened without the line');
  const check = await sandbox.runServerCommand(['check', '--read-data']);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /no errors found/);
});
