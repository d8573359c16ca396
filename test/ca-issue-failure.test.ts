// Regression: when a new client's files could not be written after its certificate was recorded in
// issued/, the record stayed: the CA believed in a certificate nobody held, `list` showed it valid, and
// `client NAME` was refused for it ("has a certificate that is not revoked"). The write fails here for
// real, as root cannot be stopped by modes: the certificate's path is a symlink into a path whose parent
// is a regular file, which an exclusive create refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { initCertificateAuthority, issueClientCertificate, issueServerCertificate } from '../src/ca/ca';
import { issuedCertificates } from '../src/ca/ca-record';

const opensslMissing = spawnSync('openssl', ['version']).status === 0 ? false : 'the openssl CLI is not installed';

/** `file` made unwritable: a symlink to a path under a regular file (existsSync says it is not there). */
async function unwritable(folder: string, file: string): Promise<void> {
  const regular = path.join(folder, 'a-regular-file');
  await writeFile(regular, 'not a folder\n');
  await mkdir(path.dirname(file), { recursive: true });
  await symlink(path.join(regular, path.basename(file)), file);
}

test('a client or server certificate whose files cannot be written is not left in the record', { skip: opensslMissing, timeout: 120_000 }, async (t) => {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'cpsbackup-ca-failure-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  await initCertificateAuthority(folder);

  const clientCert = path.join(folder, 'clients', 'node1.pem');
  await unwritable(folder, clientCert);
  await assert.rejects(issueClientCertificate(folder, 'node1'), /node1\.pem/);
  assert.deepEqual(await issuedCertificates(folder), [], 'the record forgets the certificate nobody holds');
  assert.equal(existsSync(path.join(folder, 'clients', 'node1.key')), false, 'its key is not left either');
  await unlink(clientCert);
  const issued = await issueClientCertificate(folder, 'node1');
  assert.deepEqual((await issuedCertificates(folder)).map((entry) => entry.serial), [issued.serial], 'NAME is issued at once, without --replace');

  const serverCert = path.join(folder, 'server.pem');
  await unwritable(folder, serverCert);
  await assert.rejects(issueServerCertificate(folder, 'backup.lan'), /server\.pem/);
  assert.deepEqual((await issuedCertificates(folder)).map((entry) => entry.kind), ['client'], 'no server certificate on record');
  assert.equal(existsSync(path.join(folder, 'server.key')), false);
});
