// Proves the typed configs: defaults, repeated keys, errors naming file:line, path resolution,
// required ssl files, and the client registry's name and CN rules. Pure parsing, no server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadServerConfig, serverConfigFromText } from '../src/common/config/server-config';
import { loadNodeConfig, nodeConfigFromText } from '../src/common/config/node-config';
import { isValidClientName } from '../src/common/config/client-record';
import { loadClientRegistry } from '../src/server/clients/load-client-registry';
import type { ClientRegistry } from '../src/server/clients/client-registry';
import { initCertificateAuthority, issueClientCertificate, issueServerCertificate } from '../src/ca/ca';
import { configError } from './support/config-errors';
import { effectiveQuotas } from '../src/server/quota/quota-rules';

function registryOf(clientsDirectory: string): ClientRegistry {
  return loadClientRegistry({ file: path.join(clientsDirectory, '..', 'server.conf'), clientsDirectory, clientsDirectoryLine: undefined });
}

/** Accepted client by certificate CN, or undefined. */
function byCommonName(registry: ClientRegistry, commonName: string): string | undefined {
  const lookup = registry.lookup(commonName);
  return lookup.isAccepted ? lookup.record.name : undefined;
}

const repositoryRoot = path.resolve(__dirname, '..', '..');

/** A temp tree shaped like etc/: backup/ for configs, ssl/ with placeholder certificate files. */
function makeTree(t: { after: (fn: () => void) => void }): { root: string; backup: string } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'cpsbackup-config-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const backup = path.join(root, 'backup');
  mkdirSync(path.join(backup, 'clients'), { recursive: true });
  mkdirSync(path.join(root, 'ssl', 'clients'), { recursive: true });
  for (const name of ['ca.pem', 'server.pem', 'server.key', 'clients/node1.pem', 'clients/node1.key']) {
    writeFileSync(path.join(root, 'ssl', name), 'placeholder\n');
  }
  return { root, backup };
}

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

/** Replaces makeTree's placeholders with a real CA, server and node1 certificates (openssl). */
async function issueRealCertificates(root: string): Promise<void> {
  const ssl = path.join(root, 'ssl');
  for (const name of ['ca.pem', 'server.pem', 'server.key', 'clients/node1.pem', 'clients/node1.key']) rmSync(path.join(ssl, name));
  await initCertificateAuthority(ssl);
  await issueServerCertificate(ssl, 'localhost');
  await issueClientCertificate(ssl, 'node1');
}

const serverSsl = 'ssl_cert = ../ssl/server.pem\nssl_key = ../ssl/server.key\nssl_ca = ../ssl/ca.pem\n';
const nodeSsl = 'ssl_cert = ../ssl/clients/node1.pem\nssl_key = ../ssl/clients/node1.key\nssl_ca = ../ssl/ca.pem\n';


test('server config: defaults, relative paths and frozen result', (t) => {
  const { root, backup } = makeTree(t);
  const file = path.join(backup, 'server.conf');
  const config = serverConfigFromText(file, `directory = store\n${serverSsl}`);
  assert.equal(config.file, file);
  assert.equal(config.address, '127.0.0.1');
  assert.equal(config.port, 4200);
  assert.equal(config.statusAddress, '127.0.0.1');
  assert.equal(config.statusPort, 4201);
  assert.deepEqual(config.keep, [7]);
  assert.equal(config.keepDays, undefined);
  assert.equal(config.directory, path.join(backup, 'store'));
  assert.equal(config.clientsDirectory, path.join(backup, 'clients'));
  assert.equal(config.sslCert, path.join(root, 'ssl', 'server.pem'));
  assert.equal(config.sslKey, path.join(root, 'ssl', 'server.key'));
  assert.equal(config.sslCa, path.join(root, 'ssl', 'ca.pem'));
  assert.equal(config.chunker, 'fastcdc');
  assert.deepEqual([config.chunkMinSize, config.chunkAvgSize, config.chunkMaxSize], [32768, 131072, 524288]);
  assert.equal(config.isChunkerSet, false);
  assert.equal(config.compressionLevel, 3);
  assert.equal(config.maxChildren, 5);
  assert.equal(config.idleTimeoutSeconds, 300);
  assert.equal(config.networkTimeoutSeconds, 60);
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.keep));
});

test('server config: every key set, keep repeated in order, port 0 allowed', (t) => {
  const { backup } = makeTree(t);
  const config = serverConfigFromText(path.join(backup, 'server.conf'), [
    'address = 0.0.0.0', 'port = 0', 'status_address = ::1', 'status_port = 0', 'keep = 7', 'keep = 4',
    'keep_days = 90', 'directory = /srv/store', 'clientconfdir = ../clientconf', 'chunker = rabin',
    'chunk_min_size = 4096', 'chunk_avg_size = 16384', 'chunk_max_size = 65536', 'compression_level = 19',
    'max_children = 2', 'idle_timeout = 60', 'network_timeout = 90', serverSsl,
  ].join('\n'));
  assert.equal(config.address, '0.0.0.0');
  assert.equal(config.port, 0);
  assert.equal(config.statusAddress, '::1');
  assert.equal(config.statusPort, 0);
  assert.deepEqual(config.keep, [7, 4]);
  assert.equal(config.keepDays, 90);
  assert.equal(config.directory, '/srv/store');
  assert.equal(config.clientsDirectory, path.join(path.dirname(backup), 'clientconf'));
  assert.equal(config.chunker, 'rabin');
  assert.deepEqual([config.chunkMinSize, config.chunkAvgSize, config.chunkMaxSize], [4096, 16384, 65536]);
  assert.equal(config.compressionLevel, 19);
  assert.equal(config.maxChildren, 2);
  assert.equal(config.idleTimeoutSeconds, 60);
  assert.equal(config.networkTimeoutSeconds, 90);
});

test('server config: errors name the file and the line', (t) => {
  const { backup } = makeTree(t);
  const file = path.join(backup, 'server.conf');
  const load = (text: string) => () => serverConfigFromText(file, text);
  assert.throws(load(`directory = s\n${serverSsl}# comment\nkepp = 3\n`), configError(6, /unknown key "kepp"/));
  assert.throws(load(`directory = s\n${serverSsl}# x\nkepp = 3\n`), (error: Error) => error.message.startsWith(`${file}:6:`));
  assert.throws(load(`directory = s\nport = 42OO\n${serverSsl}`), configError(2, /port must be an integer/));
  assert.throws(load(`directory = s\nport = 70000\n${serverSsl}`), configError(2, /between 0 and 65535/));
  assert.throws(load(`directory = s\nport = 1\nport = 2\n${serverSsl}`), configError(3, /only once/));
  assert.throws(load(`directory = s\nkeep = 0\n${serverSsl}`), configError(2, /keep must be between/));
  assert.throws(load(`directory = s\ncompression_level = 22\n${serverSsl}`), configError(2, /compression_level/));
  assert.throws(load(`directory = s\nnetwork_timeout = 2\n${serverSsl}`), configError(2, /network_timeout must be between 4 and 86400/));
  assert.throws(load(`directory = s\nchunker = buzhash\n${serverSsl}`), configError(2, /fastcdc or rabin/));
  assert.throws(load(`directory = s\nchunk_avg_size = 1000000\n${serverSsl}`), configError(2, /power of two/));
  assert.throws(load(`directory = s\nchunk_min_size = 2097152\n${serverSsl}`), configError(2, /chunk_min_size < chunk_avg_size/));
  assert.throws(load(`directory = s\naddress = not an address\n${serverSsl}`), configError(2, /IP address or a host name/));
  assert.throws(load(serverSsl), configError(undefined, /directory= is required/));
  assert.throws(load(`directory = s\nssl_cert = ../ssl/server.pem\nssl_ca = ../ssl/ca.pem\n`), configError(undefined, /ssl_key= is required/));
  assert.throws(load('directory = s\nthis line has no equals sign\n'), configError(2, /expected "key = value"/));
});

test('server config: a missing ssl file is an error on its line', (t) => {
  const { root, backup } = makeTree(t);
  rmSync(path.join(root, 'ssl', 'server.key'));
  assert.throws(() => serverConfigFromText(path.join(backup, 'server.conf'), `directory = s\n${serverSsl}`),
    configError(3, /ssl_key: .*server\.key does not exist/));
  assert.throws(() => serverConfigFromText(path.join(backup, 'server.conf'), `directory = s\n${serverSsl}`.replace('server.pem', '')),
    configError(2, /is a folder, not a regular file/));
});

test('server config: loadServerConfig reads the file, and a missing file is a ConfigError', { skip: !hasOpenssl }, async (t) => {
  const { root, backup } = makeTree(t);
  const file = path.join(backup, 'server.conf');
  assert.throws(() => loadServerConfig(file), configError(undefined, /file not found/));
  writeFileSync(file, `directory = store\n${serverSsl}`);
  // The file-based loader also reads the certificates: placeholders are refused on their line.
  assert.throws(() => loadServerConfig(file), configError(2, /ssl_cert: .*server\.pem is not a PEM certificate/));
  await issueRealCertificates(root);
  // A relative config path resolves from the cwd once, then paths inside it from its own folder.
  const config = loadServerConfig(path.relative(process.cwd(), file));
  assert.equal(config.file, file);
  assert.equal(config.directory, path.join(backup, 'store'));
});

test('node config: defaults, includes resolved, regexes, storage.conf only when present', (t) => {
  const { root, backup } = makeTree(t);
  const file = path.join(backup, 'node.conf');
  const text = `server = backup.example.org\ninclude = /etc\ninclude = data/../app\nexclude_regex = \\.tmp$\n${nodeSsl}`;
  const config = nodeConfigFromText(file, text);
  assert.equal(config.server, 'backup.example.org');
  assert.equal(config.port, 4200);
  assert.equal(config.serverName, undefined);
  assert.deepEqual(config.includes, ['/etc', path.join(backup, 'app')]);
  assert.equal(config.excludeRegex.length, 1);
  assert.ok(config.excludeRegex[0].test('/etc/a.tmp'));
  assert.ok(!config.excludeRegex[0].test('/etc/a.tmpx'));
  assert.equal(config.readAllFifos, false);
  assert.equal(config.sslCert, path.join(root, 'ssl', 'clients', 'node1.pem'));
  assert.equal(config.storageConfig, undefined);
  assert.equal(config.workDirectory, '/var/lib/cpsbackup/work');
  assert.equal(config.stateDirectory, '/var/lib/cpsbackup/state');
  assert.equal(config.networkTimeoutSeconds, 300);
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.includes) && Object.isFrozen(config.excludeRegex));

  writeFileSync(path.join(backup, 'storage.conf'), '');
  assert.equal(nodeConfigFromText(file, text).storageConfig, path.join(backup, 'storage.conf'));
});

test('node config: every key set', (t) => {
  const { root, backup } = makeTree(t);
  writeFileSync(path.join(root, 'storage-a.conf'), '');
  const config = nodeConfigFromText(path.join(backup, 'node.conf'), [
    'server = 10.0.0.5', 'port = 4300', 'server_name = backup.lan', 'read_all_fifos = 1',
    'storage_conf = ../storage-a.conf', 'work_directory = work', 'state_directory = /srv/state', 'network_timeout = 45', nodeSsl,
  ].join('\n'));
  assert.equal(config.networkTimeoutSeconds, 45);
  assert.equal(config.server, '10.0.0.5');
  assert.equal(config.port, 4300);
  assert.equal(config.serverName, 'backup.lan');
  assert.equal(config.readAllFifos, true);
  assert.equal(config.storageConfig, path.join(root, 'storage-a.conf'));
  assert.equal(config.workDirectory, path.join(backup, 'work'));
  assert.equal(config.stateDirectory, '/srv/state');
  assert.deepEqual(config.includes, []);
});

test('node config: errors name the file and the line', (t) => {
  const { backup } = makeTree(t);
  const load = (text: string) => () => nodeConfigFromText(path.join(backup, 'node.conf'), text);
  assert.throws(load(nodeSsl), configError(undefined, /server= is required/));
  assert.throws(load(`server = a\nexclude_regex = ([a-z\n${nodeSsl}`), configError(2, /not a valid regular expression/));
  assert.throws(load(`server = a\nread_all_fifos = maybe\n${nodeSsl}`), configError(2, /must be 0 or 1/));
  assert.throws(load(`server = a\nport = 0\n${nodeSsl}`), configError(2, /between 1 and 65535/));
  assert.throws(load(`server = a\nnetwork_timeout = 3\n${nodeSsl}`), configError(2, /network_timeout must be between 4 and 86400/));
  assert.throws(load(`server = a\nnetwork_timeout = 5m\n${nodeSsl}`), configError(2, /network_timeout must be an integer/));
  assert.throws(load(`server = a b\n${nodeSsl}`), configError(1, /host name or an IP address/));
  assert.throws(load(`server = a\ninclude =\n${nodeSsl}`), configError(2, /must not be empty/));
  assert.throws(load(`server = a\nstorage_conf = nowhere.conf\n${nodeSsl}`), configError(2, /nowhere\.conf does not exist/));
  assert.throws(load(`server = a\n${nodeSsl}keep = 3\n`), configError(5, /unknown key "keep"/));
  assert.throws(load(`server = a\nssl_cert = ../ssl/missing.pem\nssl_key = ../ssl/clients/node1.key\nssl_ca = ../ssl/ca.pem`),
    configError(2, /missing\.pem does not exist/));
});

test('client names: safe alphabet only', () => {
  for (const name of ['node1', 'a', 'Node-1.prod_eu', 'x'.repeat(64), '1']) assert.ok(isValidClientName(name), name);
  for (const name of ['', '.hidden', '..', '-x', '_x', 'a/b', 'a\\b', 'a\0b', 'x'.repeat(65), 'a b', 'é', 'a:b']) {
    assert.ok(!isValidClientName(name), JSON.stringify(name));
  }
});

test('client records: loaded by name, found by CN, dot files skipped', (t) => {
  const { backup } = makeTree(t);
  const clients = path.join(backup, 'clients');
  writeFileSync(path.join(clients, 'node1'), 'ssl_peer_cn = node1\nrestore_client = node2, node3\nrestore_client = node2\n');
  writeFileSync(path.join(clients, 'node2'), 'ssl_peer_cn = node2.example\nkeep = 14\nkeep = 2\nkeep_days = 30\n');
  writeFileSync(path.join(clients, '.node3.swp'), 'garbage without equals\n');
  mkdirSync(path.join(clients, '.git'));
  const registry = registryOf(clients);
  assert.deepEqual(registry.clientNames, ['node1', 'node2']);
  assert.deepEqual(registry.refused, []);
  const node1 = registry.byName('node1');
  assert.deepEqual(node1, { name: 'node1', file: path.join(clients, 'node1'), sslPeerCn: 'node1', restoreClients: ['node2', 'node3'], keep: undefined, keepDays: undefined,
    calendar: undefined, rights: { canDelete: true, canList: true, canRestore: true, canForceBackup: true } });
  assert.ok(Object.isFrozen(node1) && Object.isFrozen(node1?.restoreClients));
  assert.deepEqual(registry.byName('node2'), { name: 'node2', file: path.join(clients, 'node2'), sslPeerCn: 'node2.example', restoreClients: [], keep: [14, 2], keepDays: 30,
    calendar: undefined, rights: { canDelete: true, canList: true, canRestore: true, canForceBackup: true } });
  assert.equal(byCommonName(registry, 'node2.example'), 'node2');
  assert.equal(byCommonName(registry, 'node2'), undefined);
  assert.equal(byCommonName(registry, 'NODE1'), undefined);
});

test('client records: an invalid name, a missing CN, a shared CN or a bad value refuses that record only', (t) => {
  const { root } = makeTree(t);
  const clients = path.join(root, 'clients-mixed');
  mkdirSync(clients);
  const write = (name: string, text: string): void => writeFileSync(path.join(clients, name), text);
  write('good', 'ssl_peer_cn = good\n');
  write('node 1', 'ssl_peer_cn = node1\n');
  write('missing-cn', 'keep = 3\n');
  write('a', 'ssl_peer_cn = same\n');
  write('b', '# b\nssl_peer_cn = same\n');
  write('bad-restore', 'ssl_peer_cn = bad-restore\nrestore_client = ../node2\n');
  write('password', 'ssl_peer_cn = password\npassword = secret\n');
  mkdirSync(path.join(clients, 'subfolder'));
  const registry = registryOf(clients);
  assert.deepEqual(registry.clientNames, ['good']);
  const refused = new Map(registry.refused.map((record) => [record.name, record]));
  assert.deepEqual([...refused.keys()].sort(), ['a', 'b', 'bad-restore', 'missing-cn', 'node 1', 'password', 'subfolder']);
  assert.match(refused.get('node 1')!.problem, /"node 1" is not a valid client name/);
  assert.match(refused.get('missing-cn')!.problem, /ssl_peer_cn= is required/);
  assert.match(refused.get('a')!.problem, /ssl_peer_cn "same" is also claimed by .*clients-mixed\/b/);
  assert.match(refused.get('b')!.problem, /ssl_peer_cn "same" is also claimed by .*clients-mixed\/a/);
  assert.deepEqual([refused.get('bad-restore')!.line, refused.get('password')!.line], [2, 2]);
  assert.match(refused.get('bad-restore')!.problem, /restore_client: "..\/node2" is not a valid client name/);
  assert.match(refused.get('password')!.problem, /unknown key "password"/);
  assert.match(refused.get('subfolder')!.problem, /is a folder, not a regular file/);
  for (const commonName of ['same', 'node1', 'bad-restore', 'password']) {
    const lookup = registry.lookup(commonName);
    assert.ok(!lookup.isAccepted, commonName);
    assert.match(lookup.why, /refused record/, commonName);
  }
  assert.ok(registry.isRefused('bad-restore') && !registry.isRefused('good'));

  assert.throws(() => registryOf(path.join(root, 'absent')), configError(undefined, /clientconfdir: .*absent does not exist/));
});

test('the example configs in etc/backup parse, with real certificates', { skip: !hasOpenssl }, async (t) => {
  const { root, backup } = makeTree(t);
  await issueRealCertificates(root);
  const examples = path.join(repositoryRoot, 'etc', 'backup');
  copyFileSync(path.join(examples, 'server.conf'), path.join(backup, 'server.conf'));
  copyFileSync(path.join(examples, 'node.conf'), path.join(backup, 'node.conf'));
  copyFileSync(path.join(examples, 'clients', 'node1'), path.join(backup, 'clients', 'node1'));
  const server = loadServerConfig(path.join(backup, 'server.conf'));
  assert.deepEqual(server.keep, [7, 4]);
  assert.equal(server.sslCa, path.join(root, 'ssl', 'ca.pem'));
  assert.deepEqual(server.warnings, []);
  const node = loadNodeConfig(path.join(backup, 'node.conf'));
  assert.equal(node.server, '127.0.0.1');
  assert.ok(node.excludeRegex[0].test('/etc/x.swp'));
  assert.equal(byCommonName(registryOf(server.clientsDirectory), 'node1'), 'node1');
});

test('node config: daemon schedules, receive_client, postprocess and log_file (issue 5)', (t) => {
  const { backup } = makeTree(t);
  const file = path.join(backup, 'node.conf');
  const plain = nodeConfigFromText(file, `server = a\n${nodeSsl}`);
  assert.deepEqual([plain.scheduleComplete, plain.schedulePartial, plain.scheduleReceive, plain.receiveClient, plain.postprocess, plain.logFile],
    [undefined, undefined, undefined, undefined, undefined, undefined]);
  const config = nodeConfigFromText(file, [
    'server = a', 'schedule_complete = 30 3 * * *', 'schedule_partial = */5 * * * *', 'schedule_receive = */10 * * * * *',
    'receive_client = prod-1', 'postprocess = ./refresh-reports.sh --all', 'log_file = logs/daemon.log', nodeSsl,
  ].join('\n'));
  assert.equal(config.scheduleComplete, '30 3 * * *');
  assert.equal(config.schedulePartial, '*/5 * * * *');
  assert.equal(config.scheduleReceive, '*/10 * * * * *');
  assert.equal(config.receiveClient, 'prod-1');
  assert.equal(config.postprocess, './refresh-reports.sh --all');
  assert.equal(config.logFile, path.join(backup, 'logs', 'daemon.log'));

  const load = (text: string) => () => nodeConfigFromText(file, text);
  assert.throws(load(`server = a\nschedule_partial = every 5 minutes\n${nodeSsl}`), configError(2, /schedule_partial must be a cron expression/));
  assert.throws(load(`server = a\nschedule_complete = 61 3 * * *\n${nodeSsl}`), configError(2, /schedule_complete must be a cron expression/));
  assert.throws(load(`server = a\nschedule_receive = 0 * * * *\n${nodeSsl}`), configError(2, /schedule_receive needs receive_client/));
  assert.throws(load(`server = a\nreceive_client = ../prod\n${nodeSsl}`), configError(2, /not a valid client name/));
  assert.throws(load(`server = a\npostprocess =\n${nodeSsl}`), configError(2, /must not be empty/));
});

test('server config and client records: keep_days_partial (issue 5)', (t) => {
  const { backup } = makeTree(t);
  const file = path.join(backup, 'server.conf');
  assert.equal(serverConfigFromText(file, `directory = store\n${serverSsl}`).keepDaysPartial, undefined);
  assert.equal(serverConfigFromText(file, `directory = store\nkeep_days = 30\nkeep_days_partial = 2\n${serverSsl}`).keepDaysPartial, 2);
  assert.throws(() => serverConfigFromText(file, `directory = store\nkeep_days_partial = 0\n${serverSsl}`), configError(2, /keep_days_partial/));
  const clients = path.join(backup, 'clients');
  writeFileSync(path.join(clients, 'prod'), 'ssl_peer_cn = prod\nkeep = 7\nkeep_days_partial = 3\n');
  assert.equal(registryOf(clients).byName('prod')?.keepDaysPartial, 3);
  writeFileSync(path.join(clients, 'prod'), 'ssl_peer_cn = prod\nkeep_days_partial = soon\n');
  const refused = registryOf(clients).refused;
  assert.deepEqual(refused.map((record) => [record.name, record.line]), [['prod', 2]]);
  assert.match(refused[0].problem, /keep_days_partial/);
});

test('retention keys (issue 16): calendar rules alone drop the default keep = 7; bad values name their line', (t) => {
  const { backup } = makeTree(t);
  const file = path.join(backup, 'server.conf');
  const calendarOnly = serverConfigFromText(file, `directory = store\nkeep_daily = 7\nkeep_within = 1y6m\n${serverSsl}`);
  assert.deepEqual(calendarOnly.keep, []);
  assert.deepEqual(calendarOnly.calendar, { daily: 7, within: { years: 1, months: 6, days: 0, hours: 0, text: '1y6m' } });
  const both = serverConfigFromText(file, `directory = store\nkeep = 7\nkeep_weekly = 4\n${serverSsl}`);
  assert.deepEqual([both.keep, both.calendar], [[7], { weekly: 4 }]);
  assert.throws(() => serverConfigFromText(file, `directory = store\nkeep_within = 30 days\n${serverSsl}`),
    (error: Error) => /server\.conf:2: keep_within must be a span such as 30d/.test(error.message));
  assert.throws(() => serverConfigFromText(file, `directory = store\nkeep_daily = 0\n${serverSsl}`),
    (error: Error) => /server\.conf:2: keep_daily must be between 1 and/.test(error.message));
});

test('quota keys: hard_quota / soft_quota in client records, min_free in server.conf, sizes with units', (t) => {
  const { backup } = makeTree(t);
  const clients = path.join(backup, 'clients');
  writeFileSync(path.join(clients, 'node1'), 'ssl_peer_cn = node1\nsoft_quota = 8G\nhard_quota = 10G\n');
  writeFileSync(path.join(clients, 'upside'), 'ssl_peer_cn = upside\nhard_quota = 1G\nsoft_quota = 2G\n');
  writeFileSync(path.join(clients, 'nonsense'), 'ssl_peer_cn = nonsense\nhard_quota = lots\n');
  const registry = registryOf(clients);
  assert.deepEqual([registry.byName('node1')?.softQuotaBytes, registry.byName('node1')?.hardQuotaBytes], [8 * 2 ** 30, 10 * 2 ** 30]);
  const refused = new Map(registry.refused.map((record) => [record.name, record]));
  assert.equal(refused.get('upside')!.line, 3);
  assert.match(refused.get('upside')!.problem, /soft_quota \(2G\) must not be above hard_quota \(1G\)/);
  assert.match(refused.get('nonsense')!.problem, /hard_quota must be a size such as 512M or 2G/);
  const file = path.join(backup, 'server.conf');
  assert.equal(serverConfigFromText(file, `directory = s\n${serverSsl}`).minFreeBytes, undefined);
  assert.equal(serverConfigFromText(file, `directory = s\n${serverSsl}min_free = 1.5G\n`).minFreeBytes, 1.5 * 2 ** 30);
  assert.throws(() => serverConfigFromText(file, `directory = s\n${serverSsl}min_free = -1\n`), configError(5, /min_free must be a size/));
  // server.conf's quotas are every client's, unless a record sets its own; 0 in a record means none.
  const server = serverConfigFromText(file, `directory = s\n${serverSsl}hard_quota = 20G\nsoft_quota = 15G\n`).quotas;
  assert.deepEqual(server, { hardQuotaBytes: 20 * 2 ** 30, softQuotaBytes: 15 * 2 ** 30 });
  assert.deepEqual(effectiveQuotas(undefined, server), server);
  assert.deepEqual(effectiveQuotas(registry.byName('node1'), server), { hardQuotaBytes: 10 * 2 ** 30, softQuotaBytes: 8 * 2 ** 30 });
  assert.deepEqual(effectiveQuotas({ hardQuotaBytes: 0 }, server), { softQuotaBytes: 15 * 2 ** 30 });
  assert.deepEqual(effectiveQuotas(undefined, {}), {});
});

test('node config: backup_script_pre / _post and restore_script_post with their repeatable _arg lines', (t) => {
  const { backup } = makeTree(t);
  const file = path.join(backup, 'node.conf');
  writeFileSync(path.join(backup, 'freeze.sh'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(path.join(backup, 'plain.txt'), 'not a program\n', { mode: 0o644 });
  const config = nodeConfigFromText(file, `server = a\n${nodeSsl}backup_script_pre = freeze.sh\nbackup_script_pre_arg = -q\n`
    + 'backup_script_pre_arg = two words\nbackup_script_post = freeze.sh\nrestore_script_post = freeze.sh\n');
  assert.deepEqual(config.scripts.backupPre, { path: path.join(backup, 'freeze.sh'), args: ['-q', 'two words'] });
  assert.deepEqual(config.scripts.backupPost, { path: path.join(backup, 'freeze.sh'), args: [] });
  assert.deepEqual(config.scripts.restorePost, { path: path.join(backup, 'freeze.sh'), args: [] });
  assert.deepEqual(nodeConfigFromText(file, `server = a\n${nodeSsl}`).scripts, { backupPre: undefined, backupPost: undefined, restorePost: undefined });
  const load = (text: string) => () => nodeConfigFromText(file, `server = a\n${nodeSsl}${text}`);
  assert.throws(load('backup_script_post = plain.txt\n'), configError(5, /backup_script_post: .*plain\.txt is not executable/));
  assert.throws(load('backup_script_pre = missing.sh\n'), configError(5, /missing\.sh does not exist/));
  assert.throws(load('restore_script_post_arg = x\n'), configError(5, /restore_script_post_arg is set but restore_script_post is not/));
  assert.throws(load('backup_script_pre = freeze.sh\nbackup_script_pre = freeze.sh\n'), configError(6, /only once/));
});

test('resume_hold: how long an interrupted backup\'s chunks stay held for its retry (default 24h); a bad value names its line', (t) => {
  const { backup } = makeTree(t);
  const file = path.join(backup, 'server.conf');
  assert.equal(serverConfigFromText(file, `directory = s\n${serverSsl}`).resumeHoldSeconds, 24 * 3600);
  assert.equal(serverConfigFromText(file, `directory = s\n${serverSsl}resume_hold = 90m\n`).resumeHoldSeconds, 90 * 60);
  assert.throws(() => serverConfigFromText(file, `directory = s\n${serverSsl}resume_hold = soon\n`), configError(5, /resume_hold must be a duration/));
});

// Regression: read leniently, a byte that is not UTF-8 became U+FFFD, so `include = /srv/caf\xe9` named
// another folder (one really holding U+FFFD) or none (found by review).
test('a configuration file that is not UTF-8 is refused, naming the line', (t) => {
  const { backup } = makeTree(t);
  const file = path.join(backup, 'node.conf');
  writeFileSync(file, Buffer.concat([Buffer.from(`server = backup.example.org\n${nodeSsl}include = /srv/caf`), Buffer.from([0xe9]), Buffer.from('\n')]));
  const line = `server = backup.example.org\n${nodeSsl}`.split('\n').length;
  assert.throws(() => loadNodeConfig(file), configError(line, /is not UTF-8 text/));
  writeFileSync(file, `server = backup.example.org\n${nodeSsl}include = /srv/café\n`);
  assert.throws(() => loadNodeConfig(file), (error: Error) => !/UTF-8/.test(error.message), 'UTF-8 text goes on to be read');
  // A comment may hold anything: an old Latin-1 note must not stop every backup after an upgrade.
  writeFileSync(file, Buffer.concat([Buffer.from('# sauvegarde '), Buffer.from([0xe9, 0x74, 0xe9]), Buffer.from(`\nserver = backup.example.org\n${nodeSsl}`)]));
  assert.throws(() => loadNodeConfig(file), (error: Error) => !/UTF-8/.test(error.message), 'a comment that is not UTF-8 is no error');
});

test('a client record that is not UTF-8 is refused, naming the line; the others are taken', (t) => {
  const { backup } = makeTree(t);
  const clients = path.join(backup, 'clients');
  mkdirSync(clients, { recursive: true });
  writeFileSync(path.join(clients, 'node1'), Buffer.concat([Buffer.from('ssl_peer_cn = node'), Buffer.from([0xb9]), Buffer.from('\n')]));
  writeFileSync(path.join(clients, 'node2'), Buffer.concat([Buffer.from('# '), Buffer.from([0xe9]), Buffer.from('\nssl_peer_cn = node2\n')]));
  const registry = loadClientRegistry({ file: path.join(backup, 'server.conf'), clientsDirectory: clients, clientsDirectoryLine: 3 } as never);
  assert.deepEqual(registry.refused.map((refusal) => [refusal.name, refusal.line, /is not UTF-8 text/.test(refusal.problem)]), [['node1', 1, true]]);
  assert.ok(registry.byName('node2'), 'a comment that is not UTF-8 is no error');
});

// Regression (red team redconf, never-firing-schedule): `schedule_complete = 0 3 30 2 *` (30 February), or a year
// gone by, parsed and was accepted; the daemon then logged `next run never` and stopped with an internal error, or,
// beside a valid schedule_partial, ran partials for ever on no base. Now refused when the config is read, file:line.
test('a schedule that can never fire is a configuration error naming its line, in node.conf and server.conf', (t) => {
  const { backup } = makeTree(t);
  const file = path.join(backup, 'node.conf');
  for (const key of ['schedule_complete', 'schedule_partial']) {
    for (const never of ['0 3 30 2 *', '0 0 3 31 4 *', '0 0 3 1 1 * 2020', '0 3 31 11 *']) {
      assert.throws(() => nodeConfigFromText(file, `server = a\n${key} = ${never}\n${nodeSsl}`),
        configError(2, new RegExp(`${key} = ${never.replace(/\*/g, '\\*')} never fires`)), `${key} = ${never}`);
    }
  }
  assert.throws(() => nodeConfigFromText(file, `server = a\nreceive_client = prod\nschedule_receive = 0 3 30 2 *\n${nodeSsl}`),
    configError(3, /schedule_receive = .* never fires/));
  assert.equal(nodeConfigFromText(file, `server = a\nschedule_complete = 0 3 29 2 *\n${nodeSsl}`).scheduleComplete, '0 3 29 2 *');
  const serverFile = path.join(backup, 'server.conf');
  assert.throws(() => serverConfigFromText(serverFile, `directory = s\ncheck_schedule = 0 4 30 2 *\n${serverSsl}`), configError(2, /check_schedule = .* never fires/));
});
