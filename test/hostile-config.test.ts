// Regression (issue 13): configuration mistakes, careless or hostile, through the real programs.
// `-c FIFO` blocked for ever; a FIFO as log_file hung the daemon deaf to SIGTERM; a non-PEM
// certificate, a key of another certificate, a CA file that is no CA, a store folder that is a
// dangling symlink or a file or a 64 KiB path, a clientconfdir that is a FIFO: a stack trace with
// exit 1, or a server that started anyway; `cpsbackup-server chekc` started a server. Each is now
// exit 2 with one line naming file:line (values cut), no stack, within 5 s, for every spelling below.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { Sandbox, runNode, type CommandResult } from './support/sandbox';
import { waitUntil } from './support/fault-tools';

const CLI = resolve(__dirname, '..', 'src', 'cli');
const SERVER = join(CLI, 'cpsbackup-server.js');
const CLIENT = join(CLI, 'cpsbackup.js');
const CA_TOOL = join(CLI, 'cpsbackup-ca.js');
/** A configuration error is found before any network or disk work: 5 s is a hang, not slowness. */
const NO_HANG_MS = 5000;
const LONG = 'x'.repeat(64 * 1024);

interface Refusal {
  /** "file:line:" or "file:" the line must name. */
  readonly at: string;
  readonly message: RegExp;
}

/** Undefined when `result` is the refusal expected; otherwise what is wrong (every case is checked, then all problems reported). */
function refusalProblem(result: CommandResult, expected: Refusal, what: string): string | undefined {
  const output = `\n    stdout: ${result.stdout.slice(0, 300)}\n    stderr: ${result.stderr.slice(0, 600)}`;
  if (result.signal === 'SIGKILL') return `${what}: still running after ${NO_HANG_MS} ms (hung)${output}`;
  if (result.code !== 2) return `${what}: exit code ${result.code ?? result.signal}, not 2${output}`;
  const lines = result.stderr.split('\n').filter((line) => line !== '');
  if (lines.length !== 1) return `${what}: ${lines.length} lines on stderr, not 1${output}`;
  if (/^\s+at /m.test(result.stderr)) return `${what}: a stack trace${output}`;
  if (lines[0].length > 700) return `${what}: a line of ${lines[0].length} characters (long values must be cut)${output}`;
  if (!lines[0].includes(expected.at)) return `${what}: does not name ${expected.at}${output}`;
  if (!expected.message.test(lines[0])) return `${what}: does not match ${expected.message}${output}`;
  if (/listening/.test(result.stdout)) return `${what}: a server started${output}`;
  return undefined;
}

function assertNoProblems(problems: readonly (string | undefined)[]): void {
  const found = problems.filter((problem) => problem !== undefined);
  assert.equal(found.length, 0, `${found.length} of ${problems.length} cases wrong:\n${found.join('\n')}`);
}

/** Replaces `key = …` (or appends it) in a copy of `lines`; returns the copy and the key's 1-based line. */
function withKey(lines: readonly string[], key: string, value: string): { lines: string[]; line: number } {
  const copy = [...lines];
  const index = copy.findIndex((line) => line.startsWith(`${key} =`));
  if (index >= 0) {
    copy[index] = `${key} = ${value}`;
    return { lines: copy, line: index + 1 };
  }
  const last = copy.at(-1) === '' ? copy.length - 1 : copy.length;
  copy.splice(last, 0, `${key} = ${value}`);
  return { lines: copy, line: last + 1 };
}

interface Fixtures {
  readonly fifo: string;
  readonly folder: string;
  readonly notPem: string;
  readonly dangling: string;
  readonly regularFile: string;
  readonly encryptedKey: string;
  readonly longPath: string;
}

async function makeFixtures(sandbox: Sandbox): Promise<Fixtures> {
  const root = join(sandbox.root, 'fixtures');
  await mkdir(root);
  const fifo = join(root, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const notPem = join(root, 'not-pem.txt');
  await writeFile(notPem, 'this is not a certificate\n');
  const dangling = join(root, 'dangling');
  await symlink(join(root, 'nowhere', 'store'), dangling);
  const encryptedKey = join(root, 'encrypted.key');
  execFileSync('openssl', ['pkey', '-in', join(sandbox.sslDirectory, 'server.key'), '-aes256', '-passout', 'pass:secret', '-out', encryptedKey]);
  return { fifo, folder: root, notPem, dangling, regularFile: notPem, encryptedKey, longPath: `/tmp/${'a'.repeat(64 * 1024)}` };
}

test('server.conf: every kind of bad file, folder or value is exit 2 with one line naming file:line, for run, gc, check and status', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1'] });
  t.after(() => sandbox.destroy());
  const fixtures = await makeFixtures(sandbox);
  const good = (await readFile(sandbox.serverConfigFile, 'utf8')).split('\n');
  const ssl = sandbox.sslDirectory;
  const cases: [string, string, RegExp][] = [
    ['ssl_cert', fixtures.fifo, /ssl_cert: .*fifo is a FIFO, not a regular file/],
    ['ssl_cert', fixtures.folder, /ssl_cert: .*fixtures is a folder, not a regular file/],
    ['ssl_cert', fixtures.notPem, /ssl_cert: .*not-pem\.txt is not a PEM certificate/],
    ['ssl_cert', join(ssl, 'server.key'), /ssl_cert: .*server\.key is not a PEM certificate .*swapped/],
    ['ssl_key', fixtures.notPem, /ssl_key: .*not-pem\.txt is not a PEM private key/],
    ['ssl_key', join(ssl, 'clients', 'node1.key'), /ssl_key: .*node1\.key is not the private key of the certificate in ssl_cert/],
    ['ssl_key', fixtures.encryptedKey, /ssl_key: .*encrypted\.key is an encrypted private key/],
    ['ssl_key', fixtures.dangling, /ssl_key: .*dangling is a symlink whose target does not exist/],
    ['ssl_ca', fixtures.notPem, /ssl_ca: .*not-pem\.txt is not a PEM certificate/],
    ['ssl_ca', join(ssl, 'server.pem'), /ssl_ca: .*server\.pem holds a certificate that is not a CA/],
    ['ssl_ca', fixtures.longPath, /ssl_ca: \/tmp\/a+… is 65541 bytes long/],
    ['directory', fixtures.dangling, /directory: .*dangling is a symlink whose target does not exist/],
    ['directory', fixtures.regularFile, /directory: .*not-pem\.txt is a regular file, not a folder/],
    ['directory', join(fixtures.regularFile, 'store'), /directory: .*not-pem\.txt \(on the way to .*\) is a regular file, not a folder/],
    ['directory', fixtures.fifo, /directory: .*fifo is a FIFO, not a folder/],
    ['directory', fixtures.longPath, /directory: \/tmp\/a+… is 65541 bytes long; a path has at most 4095/],
    ['directory', `/tmp/${'b'.repeat(300)}/store`, /directory: .* has a name of 300 bytes; a file name has at most 255/],
    ['clientconfdir', fixtures.fifo, /clientconfdir: .*fifo is a FIFO, not a folder/],
    ['clientconfdir', fixtures.regularFile, /clientconfdir: .*not-pem\.txt is a regular file, not a folder/],
    ['clientconfdir', fixtures.dangling, /clientconfdir: .*dangling is a symlink whose target does not exist/],
    ['notify_script', fixtures.fifo, /notify_script: .*fifo is a FIFO, not a regular file/],
    ['chunker', LONG, /chunker must be fastcdc or rabin, got "x{80}…"/],
    ['port', '9'.repeat(70_000), /port must be between 0 and 65535, got 9{80}…/],
    ['status_address', `\u001b[2J${LONG}`, /status_address must be an IP address or a host name, got "\\x1b\[2Jx+…"/],
  ];
  const problems: (string | undefined)[] = [];
  for (const [index, [key, value, message]] of cases.entries()) {
    const { lines, line } = withKey(good, key, value);
    const file = join(sandbox.root, `server-${index}-${key}.conf`);
    await writeFile(file, lines.join('\n'));
    for (const args of [[], ['gc'], ['check'], ['status', '--url', 'http://127.0.0.1:9']]) {
      problems.push(refusalProblem(await runNode(SERVER, ['-c', file, ...args], NO_HANG_MS), { at: `${file}:${line}:`, message }, `${key} = ${value.slice(0, 60)} (${args.join(' ') || 'run'})`));
    }
  }
  // A line that is not "key = value" at all, 64 KiB of it.
  const garbage = join(sandbox.root, 'server-garbage.conf');
  await writeFile(garbage, [...good.slice(0, 3), LONG, ...good.slice(3)].join('\n'));
  problems.push(refusalProblem(await runNode(SERVER, ['-c', garbage], NO_HANG_MS), { at: `${garbage}:4:`, message: /expected "key = value", got "x{80}…"/ }, 'a 64 KiB line'));
  // Only the running server needs the clients folder: absent, it stops the start naming clientconfdir's line.
  const { lines, line } = withKey(good, 'clientconfdir', join(sandbox.root, 'no-such-clients'));
  const missing = join(sandbox.root, 'server-no-clients.conf');
  await writeFile(missing, lines.join('\n'));
  problems.push(refusalProblem(await runNode(SERVER, ['-c', missing], NO_HANG_MS), { at: `${missing}:${line}:`, message: /clientconfdir: .*no-such-clients does not exist/ }, 'missing clientconfdir'));
  assertNoProblems(problems);
  assert.ok(!existsSync(sandbox.storeDirectory), 'nothing was opened or created');
});

test('-c names a FIFO, a folder, a socket or a device: both programs refuse it unread, for every action', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1'] });
  t.after(() => sandbox.destroy());
  const fixtures = await makeFixtures(sandbox);
  const socketPath = join(sandbox.root, 'config.sock');
  const socketServer = createServer();
  await new Promise<void>((done) => socketServer.listen(socketPath, done));
  t.after(() => new Promise<void>((done) => socketServer.close(() => done())));
  const targets: [string, RegExp][] = [
    [fixtures.fifo, /is a FIFO, not a regular file/],
    [fixtures.folder, /is a folder, not a regular file/],
    [socketPath, /is a socket, not a regular file/],
    ['/dev/zero', /is a character device, not a regular file/],
    [fixtures.dangling, /is a symlink whose target does not exist/],
  ];
  const problems: (string | undefined)[] = [];
  for (const [target, message] of targets) {
    for (const args of [[], ['gc'], ['check', '--read-data'], ['status']]) {
      problems.push(refusalProblem(await runNode(SERVER, ['-c', target, ...args], NO_HANG_MS), { at: `${target}:`, message }, `cpsbackup-server -c ${target} ${args.join(' ')}`));
    }
    for (const args of [['-e'], ['-l'], ['-s', '1'], ['-i', '--to', join(sandbox.root, 'r')], ['-d', '1'], ['daemon']]) {
      problems.push(refusalProblem(await runNode(CLIENT, ['-c', target, ...args], NO_HANG_MS), { at: `${target}:`, message }, `cpsbackup -c ${target} ${args.join(' ')}`));
    }
  }
  assertNoProblems(problems);
});

/** A node.conf for client node1 of the sandbox; nothing listens on port 9, which no test here reaches. */
function nodeLines(sandbox: Sandbox, extra: readonly string[] = []): string[] {
  const ssl = sandbox.sslDirectory;
  return [
    'server = 127.0.0.1', 'port = 9', 'server_name = localhost',
    `ssl_cert = ${join(ssl, 'clients', 'node1.pem')}`, `ssl_key = ${join(ssl, 'clients', 'node1.key')}`, `ssl_ca = ${join(ssl, 'ca.pem')}`,
    `work_directory = ${join(sandbox.root, 'work')}`, `state_directory = ${join(sandbox.root, 'state')}`,
    'schedule_complete = 0 3 * * *', ...extra, '',
  ];
}

test('node.conf: every kind of bad file, folder or value is exit 2 with one line naming file:line, for every action', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1', 'node2'] });
  t.after(() => sandbox.destroy());
  const fixtures = await makeFixtures(sandbox);
  const ssl = sandbox.sslDirectory;
  const good = nodeLines(sandbox);
  const cases: [string, string, RegExp][] = [
    ['ssl_cert', fixtures.fifo, /ssl_cert: .*fifo is a FIFO, not a regular file/],
    ['ssl_cert', fixtures.notPem, /ssl_cert: .*not-pem\.txt is not a PEM certificate/],
    ['ssl_key', join(ssl, 'clients', 'node2.key'), /ssl_key: .*node2\.key is not the private key of the certificate in ssl_cert/],
    ['ssl_key', join(ssl, 'server.key'), /ssl_key: .*server\.key is not the private key/],
    ['ssl_ca', join(ssl, 'clients', 'node1.pem'), /ssl_ca: .*node1\.pem holds a certificate that is not a CA/],
    ['ssl_ca', fixtures.notPem, /ssl_ca: .*not-pem\.txt is not a PEM certificate/],
    ['ssl_crl', fixtures.fifo, /ssl_crl: .*fifo is a FIFO, not a regular file/],
    ['ssl_crl', fixtures.notPem, /ssl_crl: .*not-pem\.txt holds no PEM revocation list/],
    ['ssl_crl', fixtures.longPath, /ssl_crl: \/tmp\/a+… is 65541 bytes long/],
    ['ssl_crl', fixtures.folder, /ssl_crl: .*fixtures is a folder/],
    ['storage_conf', fixtures.fifo, /storage_conf: .*fifo is a FIFO, not a regular file/],
    ['work_directory', fixtures.regularFile, /work_directory: .*not-pem\.txt is a regular file, not a folder/],
    ['work_directory', fixtures.longPath, /work_directory: \/tmp\/a+… is 65541 bytes long/],
    ['state_directory', fixtures.dangling, /state_directory: .*dangling is a symlink whose target does not exist/],
    ['log_file', fixtures.fifo, /log_file: .*fifo is a FIFO; a log file must be a regular file or a terminal/],
    ['log_file', '/dev/null', /log_file: \/dev\/null is a character device; a log file must be a regular file or a terminal/],
    ['log_file', fixtures.folder, /log_file: .*fixtures is a folder; a log file must be a regular file or a terminal/],
    ['log_file', join(fixtures.regularFile, 'daemon.log'), /log_file: .*not-pem\.txt is a regular file, not a folder/],
    ['exclude_regex', `(${LONG}`, /exclude_regex is not a valid regular expression: .*…/],
    ['server', LONG, /server must be a host name or an IP address, got "x{80}…"/],
  ];
  const problems: (string | undefined)[] = [];
  for (const [index, [key, value, message]] of cases.entries()) {
    const { lines, line } = withKey(good, key, value);
    const file = join(sandbox.root, `node-${index}-${key}.conf`);
    await writeFile(file, lines.join('\n'));
    for (const args of [['-e'], ['-l'], ['-s', '1'], ['-i', '--to', join(sandbox.root, 'r')], ['-d', '1'], ['daemon']]) {
      problems.push(refusalProblem(await runNode(CLIENT, ['-c', file, ...args], NO_HANG_MS), { at: `${file}:${line}:`, message }, `${key} = ${value.slice(0, 60)} (${args.join(' ')})`));
    }
  }
  // storage.conf found beside node.conf (no storage_conf line) that is a FIFO: named by its own path.
  const beside = join(sandbox.root, 'beside');
  await mkdir(beside);
  execFileSync('mkfifo', [join(beside, 'storage.conf')]);
  await writeFile(join(beside, 'node.conf'), good.join('\n'));
  problems.push(refusalProblem(await runNode(CLIENT, ['-c', join(beside, 'node.conf'), '-l'], NO_HANG_MS),
    { at: `${join(beside, 'storage.conf')}:`, message: /is a FIFO, not a regular file/ }, 'implicit storage.conf FIFO'));
  assertNoProblems(problems);
});

test('includes that do not exist or cannot exist (64 KiB) are warned once when a backup starts, cut; listing does not look at them', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1'] });
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'kept.txt'), 'kept\n');
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`, `include = ${join(sandbox.root, 'gone')}`, `include = /tmp/${LONG}`]);
  const lines = (await readFile(config, 'utf8')).split('\n');
  const goneLine = lines.findIndex((line) => line.includes('gone')) + 1;
  const longLine = lines.findIndex((line) => line.includes(LONG)) + 1;
  const backup = await sandbox.runClient(['-c', config, '-e']);
  // 0 today; the fidelity issue (12) makes a missing include exit 3. Either way the backup is made.
  assert.ok(backup.code === 0 || backup.code === 3, backup.stderr.slice(0, 2000));
  assert.match(backup.stdout, /Backup \d+ (done|kept, incomplete)/);
  const warnings = backup.stderr.split('\n').filter((line) => line.startsWith(`cpsbackup: warning: ${config}:`));
  assert.equal(warnings.length, 2, backup.stderr.slice(0, 2000));
  assert.equal(warnings[0], `cpsbackup: warning: ${config}:${goneLine}: include ${join(sandbox.root, 'gone')} does not exist: nothing will be backed up for it`);
  assert.match(warnings[1], new RegExp(`^cpsbackup: warning: ${config}:${longLine}: include /tmp/x+… is 65541 bytes long; a path has at most 4095: it cannot exist`));
  assert.ok(warnings[1].length < 600, 'the 64 KiB path is cut');
  const listed = await sandbox.runClient(['-c', config, '-l']);
  assert.equal(listed.code, 0, listed.stderr.slice(0, 2000));
  assert.equal(listed.stderr, '', 'listing backups says nothing about includes');
});

test('mistyped commands and extra arguments: exit 2 with a usage line, nothing started or written', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1'] });
  t.after(() => sandbox.destroy());
  const node = join(sandbox.root, 'node.conf');
  await writeFile(node, nodeLines(sandbox).join('\n'));
  const runs: [string, string[], RegExp][] = [
    [SERVER, ['-c', sandbox.serverConfigFile, 'chekc'], /unknown command "chekc"/],
    [SERVER, ['-c', sandbox.serverConfigFile, 'start'], /unknown command "start"/],
    [SERVER, ['-c', sandbox.serverConfigFile, 'gc', 'now'], /too many arguments/],
    [SERVER, ['-c', sandbox.serverConfigFile, 'check', '--read-data', 'all'], /too many arguments/],
    [SERVER, ['-c', sandbox.serverConfigFile, 'status', 'node1'], /too many arguments/],
    [SERVER, ['-c', sandbox.serverConfigFile, '--chekc'], /unknown option '--chekc'/],
    [CLIENT, ['-c', node, 'chekc'], /unknown mode "chekc"/],
    [CLIENT, ['-c', node, 'daemon', 'now'], /too many arguments/],
    [CLIENT, ['-c', node, '-l', 'daemon', 'extra'], /too many arguments/],
    [CLIENT, ['-c', node, '--lsit'], /unknown option '--lsit'/],
  ];
  const problems: (string | undefined)[] = [];
  for (const [program, args, message] of runs) {
    const result = await runNode(program, args, NO_HANG_MS);
    const what = `${program.endsWith('cpsbackup-server.js') ? 'cpsbackup-server' : 'cpsbackup'} ${args.slice(2).join(' ')}`;
    const output = `\n    stdout: ${result.stdout.slice(0, 300)}\n    stderr: ${result.stderr.slice(0, 600)}`;
    if (result.signal === 'SIGKILL') problems.push(`${what}: still running after ${NO_HANG_MS} ms: it started something${output}`);
    else if (result.code !== 2) problems.push(`${what}: exit code ${result.code}, not 2${output}`);
    else if (!message.test(result.stderr)) problems.push(`${what}: does not match ${message}${output}`);
    else if (!/^usage: cpsbackup(-server)? /m.test(result.stderr)) problems.push(`${what}: no usage line${output}`);
    else if (/^\s+at /m.test(result.stderr)) problems.push(`${what}: a stack trace${output}`);
    else if (result.stdout !== '') problems.push(`${what}: printed on stdout (started something?)${output}`);
  }
  assertNoProblems(problems.length === 0 ? [undefined] : problems);
  assert.ok(!existsSync(sandbox.storeDirectory), 'no store was created');
  const caFolder = join(sandbox.root, 'new-ca');
  const ca = await runNode(CA_TOOL, ['init', '--dir', caFolder, 'extra'], NO_HANG_MS);
  assert.equal(ca.code, 2, ca.stderr);
  assert.match(ca.stderr, /^cpsbackup-ca: too many arguments/);
  assert.ok(!existsSync(join(caFolder, 'ca.key')), 'no CA was written');
});

test('the daemon whose log file becomes a FIFO while it runs keeps running and stops on SIGTERM', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1'] });
  t.after(() => sandbox.destroy());
  const logFile = join(sandbox.root, 'daemon.log');
  const config = join(sandbox.root, 'daemon.conf');
  // Every second a complete backup to a port where nothing listens: each run fails and logs a line.
  await writeFile(config, nodeLines(sandbox, [`log_file = ${logFile}`]).map((line) => (line.startsWith('schedule_complete') ? 'schedule_complete = * * * * * *' : line)).join('\n'));
  const daemon = spawn(process.execPath, [CLIENT, 'daemon', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  daemon.stdout.on('data', (data: Buffer) => { output += data.toString(); });
  daemon.stderr.on('data', (data: Buffer) => { output += data.toString(); });
  const exited = new Promise<number | null>((done) => daemon.once('exit', (code) => done(code)));
  t.after(() => { if (daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL'); });
  await waitUntil(async () => existsSync(logFile) && /daemon started/.test(await readFile(logFile, 'utf8')), 'the daemon\'s first log line');
  // Made aside and renamed over the log: the daemon appends every second, and would recreate a deleted file.
  execFileSync('mkfifo', [`${logFile}.fifo`]);
  await rename(`${logFile}.fifo`, logFile);
  await waitUntil(() => /cannot write .*daemon\.log: .*(ENXIO|FIFO)/.test(output), 'a refused write to the FIFO', 20_000);
  daemon.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise<'hung'>((done) => setTimeout(() => done('hung'), NO_HANG_MS).unref())]);
  assert.notEqual(code, 'hung', `SIGTERM was not obeyed within ${NO_HANG_MS} ms:\n${output}`);
  assert.equal(code, 0, output);
  await rm(logFile);
});

test('a port already taken (gRPC or status) is exit 2 naming server.conf, without a stack', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1'] });
  t.after(() => sandbox.destroy());
  const blocker = createServer();
  await new Promise<void>((done) => blocker.listen(0, '127.0.0.1', done));
  t.after(() => new Promise<void>((done) => blocker.close(() => done())));
  const taken = (blocker.address() as { port: number }).port;
  const good = (await readFile(sandbox.serverConfigFile, 'utf8')).split('\n');
  const problems: (string | undefined)[] = [];
  for (const key of ['port', 'status_port']) {
    const file = join(sandbox.root, `server-taken-${key}.conf`);
    await writeFile(file, withKey(good, key, String(taken)).lines.join('\n'));
    const result = await runNode(SERVER, ['-c', file], NO_HANG_MS);
    const last = result.stderr.trim().split('\n').at(-1) ?? '';
    if (result.code !== 2) problems.push(`${key}: exit ${result.code ?? result.signal}, not 2\n${result.stderr}`);
    else if (/^\s+at /m.test(result.stderr)) problems.push(`${key}: a stack trace\n${result.stderr}`);
    else if (!last.startsWith(`cpsbackup-server: ${file}: `) || !last.includes(`${taken}: cannot listen (EADDRINUSE)`)) problems.push(`${key}: ${last}`);
  }
  assertNoProblems(problems.length === 0 ? [undefined] : problems);
});
