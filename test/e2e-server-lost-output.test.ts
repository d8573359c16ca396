// Regression: cpsbackup-server had no 'error' listener on stderr (where its log goes) or stdout. Started as
// `cpsbackup-server … 2>&1 | tee server.log`, a tee that died made the server crash on its next log line,
// mid-backup: the backup's commit line was that line. A server whose output pipes close loses its log lines
// and goes on serving. Through the real server and CLI, the reading ends of both pipes closed once it listens.
// cpsbackup-ca had the same gap: its work done, its first line to a closed stdout made it exit 1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Sandbox, type CommandResult } from './support/sandbox';

function exited(result: CommandResult, code: number, what: string): CommandResult {
  assert.equal(result.code, code, `${what} exited ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

test('a server whose stdout and stderr readers left commits backups, stays up, and stops on SIGTERM with 0', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const server = await sandbox.startServer();
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'notes.txt'), 'kept while nobody reads the log\n');
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  // Both readers gone: every log line the server writes from now on (each commit is one) meets EPIPE.
  server.process.stdout!.destroy();
  server.process.stderr!.destroy();
  let exitedWith: string | undefined;
  const exit = new Promise<string>((done) => server.process.once('exit', (code, signal) => done(exitedWith = `${code ?? signal}`)));

  for (const number of [1, 2]) {
    exited(await sandbox.runClient(['-c', config, '-e']), 0, `backup ${number}`);
    assert.equal(exitedWith, undefined, `the server exited ${exitedWith} after backup ${number}`);
  }
  assert.match(exited(await sandbox.runClient(['-c', config, '-l']), 0, '-l').stdout, /^Backup: 0000002 /m);
  server.process.kill('SIGTERM');
  assert.equal(await exit, '0', 'the server stopped with 0: a lost log is no failure of its work');
});

/** cpsbackup-ca with both output pipes closed before it writes anything; its exit code or signal. */
async function caWithoutReaders(args: readonly string[]): Promise<string> {
  const child = spawn(process.execPath, [resolve(__dirname, '..', 'src', 'cli', 'cpsbackup-ca.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.destroy();
  child.stderr!.destroy();
  return new Promise<string>((done) => child.once('exit', (code, signal) => done(`${code ?? signal}`)));
}

test('cpsbackup-ca whose readers left creates the CA and issues a certificate, each with exit 0', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const folder = join(sandbox.root, 'new-ca');
  assert.equal(await caWithoutReaders(['init', '--dir', folder]), '0', 'init');
  assert.equal(await caWithoutReaders(['client', 'node2', '--dir', folder]), '0', 'client');
  await access(join(folder, 'clients', 'node2.pem'));
});
