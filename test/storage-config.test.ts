// Proves server.conf's storage keys and the S3 credentials file: local stays the default, storage = s3
// yields one typed frozen object, every bad value is a ConfigError naming file:line, secrets are never
// quoted, and a credentials file readable by others is refused. Pure parsing, no server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { ConfigError } from '../src/common/errors';
import { serverConfigFromText } from '../src/common/config/server-config';
import { loadS3Credentials } from '../src/chunkstore/backend/s3/credentials';
import { configError } from './support/config-errors';

function makeTree(t: { after: (fn: () => void) => void }): { etc: string; serverConf: string; base: string } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'cpsbackup-storage-config-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const etc = path.join(root, 'etc');
  mkdirSync(path.join(root, 'ssl'), { recursive: true });
  mkdirSync(etc);
  for (const name of ['ca.pem', 'server.pem', 'server.key']) writeFileSync(path.join(root, 'ssl', name), 'placeholder\n');
  const base = 'directory = store\nssl_cert = ../ssl/server.pem\nssl_key = ../ssl/server.key\nssl_ca = ../ssl/ca.pem\n';
  return { etc, serverConf: path.join(etc, 'server.conf'), base };
}

test('storage: local by default, with an optional key file', (t) => {
  const { etc, serverConf, base } = makeTree(t);
  assert.deepEqual(serverConfigFromText(serverConf, base).storage, { kind: 'local', packSizeBytes: 64 * 1024 ** 2, encryptionKeyFile: undefined });
  const config = serverConfigFromText(serverConf, `${base}storage = local\nencryption_key_file = keys/store.key\n`);
  assert.deepEqual(config.storage, { kind: 'local', packSizeBytes: 64 * 1024 ** 2, encryptionKeyFile: path.join(etc, 'keys', 'store.key') });
  assert.ok(Object.isFrozen(config.storage));
});

test('storage = s3: every key read into one frozen object, with defaults', (t) => {
  const { etc, serverConf, base } = makeTree(t);
  const minimal = serverConfigFromText(serverConf, `${base}storage = s3\ns3_bucket = backups\nencryption_key_file = /etc/cpsbackup/store.key\n`).storage;
  assert.deepEqual(minimal, {
    kind: 's3', packSizeBytes: 64 * 1024 ** 2, endpoint: undefined, bucket: 'backups', prefix: '', region: 'us-east-1', credentialsFile: undefined,
    encryptionKeyFile: '/etc/cpsbackup/store.key', stagingMaxBytes: 2 * 1024 ** 3, cacheBytes: 1024 ** 3, snapshotIntervalSeconds: 120,
  });
  const full = serverConfigFromText(serverConf, `${base}storage = s3\ns3_endpoint = http://127.0.0.1:7480/\ns3_bucket = site.backups-1\n`
    + 's3_prefix = /fleet/a/\ns3_region = eu-west-3\ns3_credentials_file = s3.credentials\nencryption_key_file = store.key\n'
    + 's3_staging_max = 512M\ns3_cache_size = 0\ncatalog_snapshot_interval = 0\npack_size = 8M\n').storage;
  assert.deepEqual(full, {
    kind: 's3', packSizeBytes: 8 * 1024 ** 2, endpoint: 'http://127.0.0.1:7480', bucket: 'site.backups-1', prefix: 'fleet/a/', region: 'eu-west-3',
    credentialsFile: path.join(etc, 's3.credentials'), encryptionKeyFile: path.join(etc, 'store.key'),
    stagingMaxBytes: 512 * 1024 ** 2, cacheBytes: 0, snapshotIntervalSeconds: 0,
  });
  assert.ok(Object.isFrozen(full));
  const sizes = serverConfigFromText(serverConf, `${base}storage = s3\ns3_bucket = abc\nencryption_key_file = k\ns3_staging_max = 1.5GiB\ns3_cache_size = 65536\n`).storage;
  assert.equal(sizes.kind === 's3' && sizes.stagingMaxBytes, 1.5 * 1024 ** 3);
  assert.equal(sizes.kind === 's3' && sizes.cacheBytes, 65536);
});

test('storage: bad values are ConfigErrors naming file and line, never quoting a credential', (t) => {
  const { serverConf, base } = makeTree(t);
  const s3 = (extra: string): string => `${base}storage = s3\ns3_bucket = backups\nencryption_key_file = store.key\n${extra}`;
  const line = base.split('\n').length + 3; // the first line after s3()'s own three
  assert.throws(() => serverConfigFromText(serverConf, `${base}storage = gcs\n`), configError(5, /storage must be local or s3, got "gcs"/));
  assert.throws(() => serverConfigFromText(serverConf, `${base}s3_bucket = backups\n`), configError(5, /s3_bucket is set but storage is local/));
  assert.throws(() => serverConfigFromText(serverConf, `${base}catalog_snapshot_interval = 60\n`), configError(5, /catalog_snapshot_interval is set but storage is local/));
  assert.throws(() => serverConfigFromText(serverConf, s3('catalog_snapshot_interval = soon\n')), configError(line, /catalog_snapshot_interval/));
  assert.throws(() => serverConfigFromText(serverConf, `${base}storage = s3\nencryption_key_file = k\n`), configError(5, /needs s3_bucket/));
  assert.throws(() => serverConfigFromText(serverConf, `${base}storage = s3\ns3_bucket = backups\n`), configError(5, /needs encryption_key_file/));
  assert.throws(() => serverConfigFromText(serverConf, `${base}storage = s3\nencryption_key_file = k\ns3_bucket = Backups_1\n`),
    configError(7, /s3_bucket must be 3 to 63/));
  assert.throws(() => serverConfigFromText(serverConf, s3('s3_endpoint = ftp://host\n')), configError(line, /http or https/));
  assert.throws(() => serverConfigFromText(serverConf, s3('s3_endpoint = https://host/bucket\n')), configError(line, /service root/));
  assert.throws(() => serverConfigFromText(serverConf, s3('s3_endpoint = https://AKID:topsecret@host\n')), (error: unknown) => {
    configError(line, /must not carry credentials/)(error);
    assert.equal((error as Error).message.includes('topsecret'), false);
    return true;
  });
  assert.throws(() => serverConfigFromText(serverConf, s3('s3_prefix = a/../b\n')), configError(line, /s3_prefix must be folder names/));
  assert.throws(() => serverConfigFromText(serverConf, s3('s3_region = US East\n')), configError(line, /s3_region/));
  // s3_staging_max below one pack is refused (not clamped), naming the line and what one pack takes.
  assert.throws(() => serverConfigFromText(serverConf, s3('s3_staging_max = 64M\n')),
    configError(line, /s3_staging_max = 64M is smaller than one pack: .*pack_size \+ chunk_max_size \+ 64 KiB = 64\.56 MiB/));
  assert.throws(() => serverConfigFromText(serverConf, s3('pack_size = 4M\ns3_staging_max = 4M\n')), configError(line + 1, /smaller than one pack/));
  assert.equal(serverConfigFromText(serverConf, s3('pack_size = 4M\ns3_staging_max = 5M\n')).storage.kind, 's3');
  assert.throws(() => serverConfigFromText(serverConf, s3('pack_size = 128M\n')), configError(line, /pack_size must be at most 64 MiB/));
  assert.throws(() => serverConfigFromText(serverConf, s3('pack_size = 100K\n')), configError(line, /pack_size must be a size .*at least 1 MiB/));
  assert.throws(() => serverConfigFromText(serverConf, s3('s3_cache_size = lots\n')), configError(line, /s3_cache_size must be a size/));
  assert.throws(() => serverConfigFromText(serverConf, s3('s3_bucket = again\n')), configError(line, /may appear only once/));
});

test('s3 credentials: from a 0600 file or the environment; loose files and missing keys are refused; the secret never shows', (t) => {
  const { etc } = makeTree(t);
  const file = path.join(etc, 's3.credentials');
  writeFileSync(file, '# RGW user cpsbackup\naccess_key_id = AKIDEXAMPLE\nsecret_access_key = wJalrXUtnFEMI/K7MDENG\n', { mode: 0o600 });
  const credentials = loadS3Credentials(file);
  assert.equal(credentials.accessKeyId, 'AKIDEXAMPLE');
  assert.equal(credentials.forSigning().secretAccessKey, 'wJalrXUtnFEMI/K7MDENG');
  assert.equal(credentials.source, `s3_credentials_file ${file}`);
  assert.equal(JSON.stringify(credentials).includes('wJalr'), false, 'JSON never shows the secret');
  assert.equal(inspect(credentials, { depth: 5 }).includes('wJalr'), false, 'util.inspect (console.log) never shows the secret');

  chmodSync(file, 0o644);
  assert.throws(() => loadS3Credentials(file), (error: unknown) => error instanceof ConfigError && /mode 0644.*chmod 600/.test(error.message));
  writeFileSync(file, 'access_key_id = AKIDEXAMPLE\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  assert.throws(() => loadS3Credentials(file), /secret_access_key = \.\.\. is required/);
  writeFileSync(file, 'access_key_id = AKIDEXAMPLE\nsecret_access_key: wJalrXUtnFEMI\n');
  assert.throws(() => loadS3Credentials(file), (error: unknown) => {
    configError(2, /expected "key = value"/)(error);
    assert.equal((error as Error).message.includes('wJalr'), false, 'a malformed line is named, not quoted');
    return true;
  });
  assert.throws(() => loadS3Credentials(path.join(etc, 'missing')), /credentials file not found/);

  const fromEnvironment = loadS3Credentials(undefined, { AWS_ACCESS_KEY_ID: 'AKIDENV', AWS_SECRET_ACCESS_KEY: 'envsecret' });
  assert.deepEqual(fromEnvironment.forSigning(), { accessKeyId: 'AKIDENV', secretAccessKey: 'envsecret' });
  assert.throws(() => loadS3Credentials(undefined, {}), /s3_credentials_file .* or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
});
