// Proves the client registry's contract without a server (issue 13): which names are leftovers,
// that no kind of file blocks or breaks the load, that a CN claimed twice (even by a broken record)
// refuses every claimant, and that a reload swaps the whole registry or keeps the previous one.
// Also the readers it stands on: readRegularFile never blocks, shown() keeps one short line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isIgnoredRecordName } from '../src/common/config/ignored-record-names';
import { loadClientRegistry } from '../src/server/clients/load-client-registry';
import { LiveClientRegistry } from '../src/server/clients/live-client-registry';
import { readRegularFile } from '../src/common/config/regular-file';
import { shown } from '../src/common/config/display';
import type { Logger } from '../src/common/logger';

function makeFolder(t: { after: (fn: () => void) => void }): { root: string; clients: string } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'cpsbackup-registry-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const clients = path.join(root, 'clients');
  mkdirSync(clients);
  return { root, clients };
}

function configFor(root: string, clients: string) {
  return { file: path.join(root, 'server.conf'), clientsDirectory: clients, clientsDirectoryLine: 7 };
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (message) => lines.push(`info ${message}`), warn: (message) => lines.push(`warn ${message}`), error: (message) => lines.push(`error ${message}`) };
}

test('leftover names are ignored; client names, even dotted ones, are not', () => {
  for (const name of ['.node1', '.git', 'node1~', '#node1#', 'node1.bak', 'node1.BAK', 'node1.old', 'node1.orig', 'node1.rej', 'node1.swp',
    'node1.swo', 'node1.tmp', 'node1.dpkg-old', 'node1.dpkg-dist', 'node1.dpkg-new', 'node1.ucf-old', 'node1.rpmnew', 'node1.rpmsave', 'node1.rpmorig']) {
    assert.ok(isIgnoredRecordName(name), name);
  }
  for (const name of ['node1', 'node1.example.org', 'web-01', 'db_2', 'backup', 'oldnode', 'bak']) assert.ok(!isIgnoredRecordName(name), name);
});

test('no kind of file in the folder blocks or breaks the load; each refuses only itself', (t) => {
  const { root, clients } = makeFolder(t);
  writeFileSync(path.join(clients, 'good'), 'ssl_peer_cn = good\n');
  writeFileSync(path.join(root, 'target'), 'ssl_peer_cn = linked\n');
  symlinkSync(path.join(root, 'target'), path.join(clients, 'linked'));
  symlinkSync(path.join(root, 'nowhere'), path.join(clients, 'dangling'));
  execFileSync('mkfifo', [path.join(clients, 'fifo')]);
  execFileSync('mkfifo', [path.join(root, 'fifo-target')]);
  symlinkSync(path.join(root, 'fifo-target'), path.join(clients, 'to-fifo'));
  symlinkSync('/dev/zero', path.join(clients, 'device'));
  mkdirSync(path.join(clients, 'folder'));
  writeFileSync(path.join(clients, 'huge'), `ssl_peer_cn = huge\n${'# padding\n'.repeat(7000)}`);
  writeFileSync(path.join(clients, 'binary'), Buffer.from([0, 1, 2, 255, 10]));
  const registry = loadClientRegistry(configFor(root, clients));
  assert.deepEqual(registry.clientNames, ['good', 'linked'], 'a symlink to a regular file is a record like any other');
  const problems = Object.fromEntries(registry.refused.map((record) => [record.name, record.problem]));
  assert.deepEqual(Object.keys(problems).sort(), ['binary', 'dangling', 'device', 'fifo', 'folder', 'huge', 'to-fifo']);
  assert.match(problems.dangling, /is a symlink whose target does not exist/);
  assert.match(problems.device, /is a character device, not a regular file/);
  assert.match(problems.fifo, /is a FIFO, not a regular file/);
  assert.match(problems['to-fifo'], /is a FIFO, not a regular file/);
  assert.match(problems.folder, /is a folder, not a regular file/);
  assert.match(problems.huge, /is larger than 65536 bytes/);
  assert.match(problems.binary, /is not UTF-8 text/);
});

test('a CN claimed twice refuses every claimant, even when one claimant is broken for another reason', (t) => {
  const { root, clients } = makeFolder(t);
  writeFileSync(path.join(clients, 'node1'), 'ssl_peer_cn = node1\n');
  writeFileSync(path.join(clients, 'node1-copy'), 'ssl_peer_cn = node1\nkeep = many\n');
  writeFileSync(path.join(clients, 'bad name'), 'ssl_peer_cn = node2\n');
  writeFileSync(path.join(clients, 'node2'), 'ssl_peer_cn = node2\n');
  writeFileSync(path.join(clients, 'node3'), 'ssl_peer_cn = node3\n');
  const registry = loadClientRegistry(configFor(root, clients));
  assert.deepEqual(registry.clientNames, ['node3']);
  for (const commonName of ['node1', 'node2']) {
    const lookup = registry.lookup(commonName);
    assert.equal(lookup.isAccepted, false, commonName);
    if (!lookup.isAccepted) assert.match(lookup.why, /claimed by a refused record/);
  }
  assert.ok(registry.isRefused('node1') && registry.isRefused('node2') && !registry.isRefused('node3'));
  const unknown = registry.lookup('ghost');
  assert.ok(!unknown.isAccepted && /matches no client record in .*clients \(register it .* then send SIGHUP/.test(unknown.why));
  assert.equal(registry.byName('node3')?.sslPeerCn, 'node3');
  assert.ok(Object.isFrozen(registry));
});

test('a record named after the client with a mistyped ssl_peer_cn is named when that client is refused, not read as no record', (t) => {
  const { root, clients } = makeFolder(t);
  writeFileSync(path.join(clients, 'node3'), 'ssl_peer_cn = nod3\n');
  const registry = loadClientRegistry(configFor(root, clients));
  const lookup = registry.lookup('node3');
  assert.equal(lookup.isAccepted, false);
  if (!lookup.isAccepted) {
    assert.match(lookup.why, /^certificate CN "node3" matches no client record: \S+clients\/node3 holds ssl_peer_cn = nod3, not node3 \(correct it, then send SIGHUP/);
  }
  assert.equal(registry.lookup('nod3').isAccepted, true, 'the record itself is accepted, for the CN it names');
});

test('the live registry: a reload swaps the whole registry, or keeps the previous one when the folder cannot be listed', (t) => {
  const { root, clients } = makeFolder(t);
  writeFileSync(path.join(clients, 'node1'), 'ssl_peer_cn = node1\n');
  const logger = recordingLogger();
  const live = LiveClientRegistry.load(configFor(root, clients), logger);
  const first = live.current;
  assert.deepEqual(first.clientNames, ['node1']);
  assert.match(logger.lines.join('\n'), /info clients loaded from .*clients: 1 accepted \(node1\)/);

  writeFileSync(path.join(clients, 'node2'), 'ssl_peer_cn = node2\n');
  writeFileSync(path.join(clients, 'node1'), 'ssl_peer_cn = node1\nrestore_client = ../node2\n');
  assert.equal(live.reload(), true);
  assert.deepEqual(live.current.clientNames, ['node2']);
  assert.deepEqual(first.clientNames, ['node1'], 'a registry already handed out never changes');
  assert.match(logger.lines.join('\n'), /error .*clients\/node1:2: restore_client: "..\/node2" is not a valid client name; client "node1" is refused \(it was accepted before this reload\)/);

  renameSync(clients, `${clients}.away`);
  writeFileSync(clients, 'now a file\n');
  const before = live.current;
  assert.equal(live.reload(), false);
  assert.equal(live.current, before, 'the previous registry is kept');
  assert.match(logger.lines.at(-1)!, /error clients not reloaded, keeping the previous 1 \(node2\): .*server\.conf:7: clientconfdir: .*clients is a regular file, not a folder/);

  rmSync(clients);
  mkdirSync(clients);
  assert.equal(live.reload(), true);
  assert.match(logger.lines.at(-1)!, /error clients reloaded from .*: NO valid client record; every client is refused until one is added/);
  assert.equal(live.current.lookup('node2').isAccepted, false);
});

test('an unusable folder at start is a ConfigError naming server.conf and the clientconfdir line', (t) => {
  const { root } = makeFolder(t);
  execFileSync('mkfifo', [path.join(root, 'fifo')]);
  assert.throws(() => LiveClientRegistry.load(configFor(root, path.join(root, 'fifo')), recordingLogger()),
    (error: Error) => error.message === `${path.join(root, 'server.conf')}:7: clientconfdir: ${path.join(root, 'fifo')} is a FIFO, not a folder`);
  assert.throws(() => loadClientRegistry(configFor(root, path.join(root, 'absent'))), /server\.conf:7: clientconfdir: .*absent does not exist/);
});

test('readRegularFile never blocks and refuses what is not a regular file; shown() keeps one short line', (t) => {
  const { root } = makeFolder(t);
  const fifo = path.join(root, 'fifo');
  execFileSync('mkfifo', [fifo]);
  assert.throws(() => readRegularFile(fifo), /is a FIFO, not a regular file/);
  assert.throws(() => readRegularFile('/dev/zero'), /is a character device, not a regular file/);
  assert.throws(() => readRegularFile(root), /is a folder, not a regular file/);
  assert.throws(() => readRegularFile(path.join(root, 'absent')), /does not exist/);
  writeFileSync(path.join(root, 'big'), Buffer.alloc(2 * 1024 * 1024, 0x61));
  assert.throws(() => readRegularFile(path.join(root, 'big')), /is larger than 1048576 bytes/);
  writeFileSync(path.join(root, 'small'), 'a = b\n');
  assert.equal(readRegularFile(path.join(root, 'small')).toString(), 'a = b\n');
  assert.equal(readRegularFile(path.join(root, 'small'), 6).length, 6, 'exactly the limit is allowed');

  assert.equal(shown('short'), 'short');
  assert.equal(shown('x'.repeat(100)), `${'x'.repeat(80)}…`);
  assert.equal(shown('a\nb\r\u001b[2J'), 'a\\x0ab\\x0d\\x1b[2J');
  assert.equal(shown('é'.repeat(81)), `${'é'.repeat(80)}…`, 'characters, not bytes');
});
