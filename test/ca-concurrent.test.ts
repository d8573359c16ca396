// Guards a race a review found: cpsbackup-ca took no lock, so two runs at once on one CA folder (two
// operators, a script issuing clients in parallel) each read revoked/index.txt and wrote it back with
// only their own revocation, and raced on openssl's revoked/crlnumber: a revocation was lost from the
// index and crl.pem while its command said it was done, or the command failed. Proves through the real
// CLI, many processes at once: every certificate issued is recorded with its own serial, every
// revocation reaches the index and crl.pem; a run that finds the CA folder locked waits, naming the
// holder, goes on when the holder dies, and gives up after a bounded wait.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runNode, type CommandResult } from './support/sandbox';
import { crlContents } from '../src/common/tls/crl-contents';
import { certificateSerial, type CertificateSerial } from '../src/common/tls/certificate-serial';
import { BusyError } from '../src/common/errors';
import { initCertificateAuthority, issueClientCertificate } from '../src/ca/ca';
import { issuedCertificates } from '../src/ca/ca-record';
import { revokedSerials } from '../src/ca/ca-revocation-index';
import { revokeClientCertificate } from '../src/ca/ca-revoke';

const caCli = resolve(__dirname, '..', 'src', 'cli', 'cpsbackup-ca.js');
const opensslMissing = spawnSync('openssl', ['version']).status === 0 ? false : 'the openssl CLI is not installed';

async function serialOf(file: string): Promise<CertificateSerial> {
  return certificateSerial(new X509Certificate(await readFile(file)).serialNumber);
}

async function caFolder(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-ca-concurrent-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  await initCertificateAuthority(folder);
  return folder;
}

/** Another process holding the CA folder's lock, as a cpsbackup-ca in the middle of its work would. */
async function lockHolder(folder: string): Promise<{ pid: number; kill(): Promise<void> }> {
  const script = `require(${JSON.stringify(join(__dirname, '..', 'src', 'ca', 'ca-lock.js'))})`
    + `.withCaLock(${JSON.stringify(folder)}, () => { process.stdout.write('held\\n'); return new Promise(() => setInterval(() => {}, 1000)); });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolveHeld, reject) => {
    child.stdout.on('data', (data: Buffer) => { if (data.toString().includes('held')) resolveHeld(); });
    child.on('exit', (code) => reject(new Error(`lock holder exited with ${code}`)));
  });
  return {
    pid: child.pid ?? 0,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}

test('cpsbackup-ca runs at once on one CA folder: unique serials, every certificate recorded, every revocation in crl.pem',
  { skip: opensslMissing, timeout: 600_000 }, async (t) => {
    const folder = await caFolder(t);
    const doomed = ['old1', 'old2', 'old3', 'old4'];
    const replaced = ['rep1', 'rep2'];
    const fresh = ['new1', 'new2', 'new3', 'new4', 'new5', 'new6'];
    const oldSerials = new Map<string, string>();
    for (const name of [...doomed, ...replaced]) oldSerials.set(name, (await issueClientCertificate(folder, name)).serial);

    const runs: Array<[string[], Promise<CommandResult>]> = [
      ...fresh.map((name) => ['client', '--dir', folder, name]),
      ...doomed.slice(0, 2).map((name) => ['revoke', '--dir', folder, name]),
      ...doomed.slice(2).map((name) => ['revoke', '--dir', folder, '--serial', oldSerials.get(name) ?? '']),
      ...replaced.map((name) => ['client', '--dir', folder, '--replace', name]),
      ['crl', '--dir', folder],
    ].map((args) => [args, runNode(caCli, args, 300_000)]);
    // Every command is checked, but after what the folder holds: a command that said it revoked a
    // certificate which crl.pem then lacks is the worse failure, and is reported first.
    const failed: string[] = [];
    const succeeded = new Set<string>();
    for (const [args, result] of runs) {
      const { code, stdout, stderr } = await result;
      if (code === 0) succeeded.add(args[args.length - 1]);
      else failed.push(`cpsbackup-ca ${args.join(' ')}: exit ${code}\n${stdout}${stderr}`);
    }

    const recordedSerials = (await issuedCertificates(folder)).map((entry) => certificateSerial(entry.serial));
    assert.equal(new Set(recordedSerials).size, recordedSerials.length, `a serial recorded twice: ${recordedSerials.join(' ')}`);
    const issuedNow = [...fresh, ...replaced].filter((name) => succeeded.has(name));
    for (const name of issuedNow) {
      const serial = await serialOf(join(folder, 'clients', `${name}.pem`));
      assert.ok(recordedSerials.includes(serial), `${name}'s new certificate (serial ${serial}) is in issued/`);
    }
    for (const [name, serial] of oldSerials) assert.ok(recordedSerials.includes(certificateSerial(serial)), `${name}'s first certificate is in issued/`);

    const shouldBeRevoked = [...oldSerials].filter(([name, serial]) => succeeded.has(name) || succeeded.has(serial))
      .map(([, serial]) => certificateSerial(serial));
    const inIndex = new Set((await revokedSerials(folder)).map(certificateSerial));
    const inList = crlContents(await readFile(join(folder, 'crl.pem'))).revokedSerials;
    for (const serial of shouldBeRevoked) {
      assert.ok(inIndex.has(serial), `serial ${serial} is revoked in revoked/index.txt`);
      assert.ok(inList.has(serial), `serial ${serial} is in crl.pem`);
    }
    assert.deepEqual([...inList].sort(), [...inIndex].sort(), 'crl.pem lists exactly what the index revokes');
    for (const name of issuedNow) {
      const serial = await serialOf(join(folder, 'clients', `${name}.pem`));
      assert.ok(!inIndex.has(serial), `${name}'s new certificate is not revoked`);
    }
    assert.deepEqual(failed, [], 'every command succeeds');
  });

test('a run that finds the CA folder locked says who holds it, waits, and goes on when the holder dies',
  { skip: opensslMissing, timeout: 300_000 }, async (t) => {
    const folder = await caFolder(t);
    const holder = await lockHolder(folder);
    t.after(() => holder.kill());
    const run = runNode(caCli, ['client', '--dir', folder, 'node1'], 120_000);
    // The run waits as long as the holder lives: the client is not issued meanwhile.
    await new Promise((resolveLater) => setTimeout(resolveLater, 1500));
    await assert.rejects(readFile(join(folder, 'clients', 'node1.pem')), { code: 'ENOENT' });
    // SIGKILL: the holder never lets go itself, and its ca.lock stays behind; the kernel frees the lock.
    await holder.kill();
    const result = await run;
    assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
    assert.equal(result.stderr, `cpsbackup-ca: the CA folder is in use by process ${holder.pid}: waiting for it (at most 60 s)\n`);
    assert.match(result.stdout, /^wrote \S+node1\.pem \(serial [0-9A-F]+\)$/m);
  });

test('the wait for the CA lock is bounded: then the run is refused, naming the holder\'s PID and the lock file',
  { skip: opensslMissing, timeout: 300_000 }, async (t) => {
    const folder = await caFolder(t);
    await issueClientCertificate(folder, 'node1');
    const holder = await lockHolder(folder);
    t.after(() => holder.kill());
    const waitedFor: string[] = [];
    await assert.rejects(revokeClientCertificate(folder, 'node1', { waitMilliseconds: 300, onWait: (who) => waitedFor.push(who) }),
      (error: unknown) => error instanceof BusyError && error.message === `the CA folder ${folder} is in use by process ${holder.pid} `
        + `(another cpsbackup-ca holding ${join(folder, 'ca.lock')}); waited 0.3 s: try again when it has finished`);
    assert.deepEqual(waitedFor, [`process ${holder.pid}`], 'told once whom it waits for');
    assert.deepEqual(await revokedSerials(folder), [], 'nothing was revoked');
  });
