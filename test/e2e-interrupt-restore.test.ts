// Regression: Ctrl-C during `cpsbackup -i` exited at once with "interrupted: the restore stopped; …" alone:
// the entries it had already kept (the overwrite policy) or failed were never listed, where a restore that
// stops for any other reason (a full disk, the server gone) lists them first. The real CLI against the real
// server, --to a folder, in place and as a receive: the server is held (SIGSTOP) while a large file streams, so the restore
// cannot end before its Ctrl-C and its read waits on the server, which the first Ctrl-C must end.
// Regression (red-team review): SIGTERM and SIGHUP killed the restore on the spot, exit 143 or 129, nothing said:
// restore_script_post never ran, the large file's temporary file stayed in the user's folder (and the next backup
// stored it), the folders the restore made stayed 0700. Now they stop it as the first Ctrl-C does, and say so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Sandbox, type CommandResult } from './support/sandbox';
import { startClient } from './support/background-client';
import { writeDeterministicFile } from './support/trees';
import { waitUntil } from './support/fault-tools';
import { unnamedFileSizes } from './support/unnamed-files';

const MEBIBYTE = 1024 * 1024;
/** Far more than the server can have in flight (HTTP/2 window, socket buffers) when it is held. */
const LARGE_FILE_BYTES = 64 * MEBIBYTE;
const INTERRUPTED = 'interrupted: the restore stopped; what was restored or loaded before stays';
const EXIT_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
type StoppingSignal = keyof typeof EXIT_CODES;

/** The size of the restore's temporary files in `folder` (named where the file system cannot make unnamed ones), 0 while there are none. */
async function tempFileBytes(folder: string): Promise<number> {
  const names = (await readdir(folder).catch(() => [])).filter((name) => /^\.cpsbackup-.*\.tmp$/.test(name));
  const sizes = await Promise.all(names.map(async (name) => (await stat(join(folder, name)).catch(() => undefined))?.size ?? 0));
  return Math.max(0, ...sizes);
}

/** The size of the file the restore `pid` is writing in `folder` (the large file), named or not; 0 while there is none. */
async function fileBeingWrittenBytes(folder: string, pid: number | undefined): Promise<number> {
  return Math.max(await tempFileBytes(folder), ...await unnamedFileSizes(pid, folder));
}

/** The client's result, or a failure naming what it printed if it has not ended within `limitMs`. */
async function endedWithin(result: Promise<CommandResult>, limitMs: number, output: () => string): Promise<CommandResult> {
  const late = sleep(limitMs).then(() => undefined);
  const ended = await Promise.race([result, late]);
  assert.ok(ended !== undefined, `the restore did not end within ${limitMs} ms of its Ctrl-C (a read waiting on the held server?):\n${output()}`);
  return ended;
}

/**
 * 'to': -i --to a folder (runRestore alone); 'in place': -i to the original paths, with a storage.conf (the chain of
 * restores and loads, partial-chain.ts); 'receive': -i --if-new of a files-only receiver (receive_files = 1).
 */
type RestoreKind = 'to' | 'in place' | 'receive';

/**
 * Backs up a folder, prepares `restored` (where the restore will put it: a different a-kept.txt, which the default
 * policy keeps, and a folder where b-blocked.txt goes, which fails), starts the restore, holds the server while
 * the large file streams, sends the restore `signal` and checks what it said, and that its post script ran
 * (restore_script_post; a receive's postprocess runs only after a load, so none there).
 */
async function interruptRestore(kind: RestoreKind, signal: StoppingSignal = 'SIGINT'): Promise<void> {
  const sandbox = await Sandbox.create();
  const server = await sandbox.startServer();
  let restore: ReturnType<typeof startClient> | undefined;
  try {
    const data = join(sandbox.root, 'data');
    await mkdir(join(data, 'm-folder'), { recursive: true });
    // In path order, the restore meets these before the large file.
    await writeFile(join(data, 'a-kept.txt'), 'as in the backup\n');
    await writeFile(join(data, 'b-blocked.txt'), 'a folder will be in its place\n');
    await writeFile(join(data, 'm-folder', 'inner.txt'), 'in a folder the restore makes\n');
    await chmod(join(data, 'm-folder'), 0o751);
    await writeDeterministicFile(join(data, 'z-large.bin'), 'large', LARGE_FILE_BYTES);
    const storage = join(sandbox.root, 'storage.conf');
    await writeFile(storage, '');
    const target = join(sandbox.root, 'target');
    const kindLines = { 'to': [], 'in place': [`storage_conf = ${storage}`], 'receive': ['receive_files = 1', `receive_to = ${target}`] }[kind];
    const postLog = join(sandbox.root, 'post.log');
    const post = join(sandbox.root, 'post.sh');
    await writeFile(post, `#!/bin/sh\nprintf '%s|%s|%s|%s\\n' "$*" "$CPSBACKUP_OUTCOME" "$CPSBACKUP_ACTION" "$CPSBACKUP_EXIT_CODE" >> '${postLog}'\n`);
    await chmod(post, 0o755);
    const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`, `restore_script_post = ${post}`, ...kindLines]);
    const backup = await sandbox.runClient(['-c', config, '-e']);
    assert.equal(backup.code, 0, backup.stdout + backup.stderr);

    const restored = kind === 'in place' ? data : join(target, data);
    await rm(restored, { recursive: true, force: true });
    await mkdir(join(restored, 'b-blocked.txt'), { recursive: true });
    await writeFile(join(restored, 'a-kept.txt'), 'changed here since\n');

    restore = startClient(['-c', config, '-i', ...{ 'to': ['--to', target], 'in place': [], 'receive': ['--if-new'] }[kind]]);
    const running = restore;
    await waitUntil(async () => (await fileBeingWrittenBytes(restored, running.child.pid)) > MEBIBYTE || !running.isRunning(), 'the large file to be under way',
      60_000, () => running.output());
    server.process.kill('SIGSTOP');
    // Held, the server sends nothing more: a restore still running now cannot end but by the signal.
    await sleep(200);
    assert.ok(restore.isRunning(), `the restore ended before the server was held: this test would prove nothing; `
      + `make LARGE_FILE_BYTES larger\n${restore.output()}`);
    restore.child.kill(signal);
    const result = await endedWithin(restore.result, 30_000, () => running.output());
    server.process.kill('SIGCONT');

    assert.doesNotMatch(result.stdout, /Restored |Received /, 'the restore finished: the signal came too late to prove anything');
    assert.equal(result.code, EXIT_CODES[signal], `stdout: ${result.stdout}\nstderr: ${result.stderr}`);
    const lines = result.stderr.trimEnd().split('\n');
    const kept = lines.findIndex((line) => line.startsWith('not replaced: ') && line.includes(join(restored, 'a-kept.txt')));
    const failed = lines.findIndex((line) => line.startsWith('error: ') && line.includes(join(restored, 'b-blocked.txt')));
    assert.ok(kept >= 0, `no "not replaced:" line for a-kept.txt:\n${result.stderr}`);
    assert.ok(failed >= 0, `no "error:" line for b-blocked.txt:\n${result.stderr}`);
    const interrupted = signal === 'SIGINT' ? INTERRUPTED : INTERRUPTED.replace(/^interrupted/, `interrupted by ${signal}`);
    assert.equal(lines.at(-1), interrupted, `the interrupted line comes last:\n${result.stderr}`);
    // burp's "post 1 0": failed (the backup id is told only with a restore that ended).
    assert.deepEqual((await readFile(postLog, 'utf8').catch(() => '')).split('\n').filter(Boolean),
      kind === 'receive' ? [] : [`post 1 0 reserved4 reserved5|failure|restore|${EXIT_CODES[signal]}`]);
    // The large file was left unreached: not listed as failed, nothing under its name, no temporary file left.
    assert.deepEqual(lines.filter((line) => line.startsWith('error: ')), [lines[failed]]);
    await assert.rejects(stat(join(restored, 'z-large.bin')), { code: 'ENOENT' });
    assert.equal(await tempFileBytes(restored), 0);
    assert.equal(await readFile(join(restored, 'a-kept.txt'), 'utf8'), 'changed here since\n');
    // The folder the restore made has its metadata from the backup, not the 0700 it was made with.
    assert.equal((await stat(join(restored, 'm-folder'))).mode & 0o777, 0o751);
    assert.equal(await readFile(join(restored, 'm-folder', 'inner.txt'), 'utf8'), 'in a folder the restore makes\n');
    // A receive interrupted is not recorded as applied: the next one starts again.
    if (kind === 'receive') await assert.rejects(stat(join(sandbox.root, 'state', 'node1', 'receive', '.own.json')), { code: 'ENOENT' });
  } finally {
    server.process.kill('SIGCONT');
    await restore?.stop();
    await sandbox.destroy();
  }
}

test('the first Ctrl-C of -i --to stops the restore at its next entry, lists what it kept and failed, then says it was interrupted (exit 130)', async () => {
  await interruptRestore('to');
});

test('the first Ctrl-C of -i in place (restores and loads, storage.conf) does the same', async () => {
  await interruptRestore('in place');
});

test('the first Ctrl-C of a receive (-i --if-new, receive_files = 1) does the same and records nothing', async () => {
  await interruptRestore('receive');
});

test('SIGTERM stops -i in place as the first Ctrl-C does: no temporary file left, gaps listed, post script run, exit 143', async () => {
  await interruptRestore('in place', 'SIGTERM');
});

test('SIGHUP stops -i --to as the first Ctrl-C does, exit 129', async () => {
  await interruptRestore('to', 'SIGHUP');
});

test('SIGTERM stops a receive (-i --if-new) as the first Ctrl-C does and records nothing, exit 143', async () => {
  await interruptRestore('receive', 'SIGTERM');
});

// Regression (review of the change above): the first Ctrl-C only asks the restore to stop, and the chain (in place,
// with a storage.conf) and a receive first list the backups and their dumps: on a server that answered nothing
// those waits never ended, and only a second Ctrl-C did.
test('the first Ctrl-C ends an in-place restore or a receive still waiting for the server\'s list of backups', async () => {
  const sandbox = await Sandbox.create();
  const server = await sandbox.startServer();
  const clients: ReturnType<typeof startClient>[] = [];
  try {
    const data = join(sandbox.root, 'data');
    await mkdir(data, { recursive: true });
    await writeFile(join(data, 'a.txt'), 'hello\n');
    const storage = join(sandbox.root, 'storage.conf');
    await writeFile(storage, '');
    const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`, `storage_conf = ${storage}`]);
    assert.equal((await sandbox.runClient(['-c', config, '-e'])).code, 0);
    // A second file (writeNodeConfig would overwrite node1.conf): node1's settings, as a files-only receiver.
    const receiver = join(sandbox.root, 'receiver.conf');
    await writeFile(receiver, (await readFile(config, 'utf8')).replace(`storage_conf = ${storage}`, `receive_files = 1\nreceive_to = ${join(sandbox.root, 'received')}`));
    for (const args of [['-c', config, '-i'], ['-c', receiver, '-i', '--if-new']]) {
      server.process.kill('SIGSTOP');
      const client = startClient(args);
      clients.push(client);
      await sleep(1500);
      assert.ok(client.isRunning(), `${args.join(' ')} ended against a held server:\n${client.output()}`);
      client.child.kill('SIGINT');
      const result = await endedWithin(client.result, 10_000, () => client.output());
      assert.equal(result.code, 130, `${args.join(' ')}\n${result.stdout}${result.stderr}`);
      assert.equal(result.stderr.trimEnd().split('\n').at(-1), INTERRUPTED);
      server.process.kill('SIGCONT');
    }
  } finally {
    server.process.kill('SIGCONT');
    for (const client of clients) await client.stop();
    await sandbox.destroy();
  }
});
