// Regression (red team redupgrade): a client upgraded before its server backed up to the older server with
// exit 0 while that server dropped what it did not know. Against a server from before 2 December (no
// chunking in BeginAck, no xattrs, extents or hard-link targets in EntryMeta) a 50 MiB sparse file came
// back as its 4 KiB of data, a hard link's second name as an empty file, and every xattr, ACL and
// non-UTF-8 name was lost, restore exit 0; against one from before 7 December (ParentBatch without
// keeps_inode_flags) chattr's append-only and immutable flags were gone. The client now refuses such a
// server before any dump starts or any entry is sent, saying why (exit 1), and the server gets no Begin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { BackupService, type ParentBatch, type UploadRequest, type UploadResponse } from '../src/proto/cpsbackup';
import { loadServerConfig } from '../src/common/config/server-config';
import { createLogger } from '../src/common/logger';
import { LiveClientRegistry } from '../src/server/clients/live-client-registry';
import { listenWithMutualTls } from '../src/server/transport/mutual-tls-listener';
import { Sandbox, nodeConfigLines } from './support/sandbox';

/** What an older server says in the Parent call and at Begin. */
interface OlderServer {
  readonly name: string;
  readonly parent: Omit<ParentBatch, 'entries' | 'damaged' | 'backupId'>;
  readonly hasChunking: boolean;
}

const OLDER_SERVERS: readonly OlderServer[] = [
  // Before protocol 2 (commit 029e01f): none of the flags, and no chunking announced at Begin.
  { name: 'before 2 December (no xattrs, holes, hard links)', parent: { acceptsBatches: true, acceptsCarriedRuns: false, keepsInodeFlags: false }, hasChunking: false },
  // Protocol 2 with carried runs, before inode flags were kept (commit c7bccbe).
  { name: 'before 7 December (no inode flags)', parent: { acceptsBatches: true, acceptsCarriedRuns: true, keepsInodeFlags: false }, hasChunking: true },
];

/** A server that answers Parent, Upload and Delete as an older server did; what reached it, by message kind. */
async function startOlderServer(t: { after(fn: () => Promise<void>): void }, older: OlderServer): Promise<{ sandbox: Sandbox; port: number; received: string[] }> {
  const sandbox = await Sandbox.create({ clients: ['node1'] });
  const received: string[] = [];
  const server = new grpc.Server();
  server.addService(BackupService, {
    parent: (call: grpc.ServerWritableStream<unknown, ParentBatch>) => {
      call.write({ backupId: 0, entries: [], damaged: [], ...older.parent });
      call.end();
    },
    upload: (call: grpc.ServerDuplexStream<UploadRequest, UploadResponse>) => {
      call.on('data', (request: UploadRequest) => {
        const kind = request.message?.$case ?? 'none';
        received.push(kind);
        if (kind === 'begin') {
          call.write({ message: { $case: 'beginAck', value: { sessionId: 1, chunking: older.hasChunking
            ? { chunker: 'fastcdc', minSize: 32_768, avgSize: 131_072, maxSize: 524_288, compressionLevel: 3 } : undefined } } });
        } else if (request.message?.$case === 'query') {
          // Every chunk is missing: the client sends them all.
          const { queryId, hashes } = request.message.value;
          call.write({ message: { $case: 'answer', value: { queryId, missing: Buffer.alloc(Math.ceil(hashes.length / 32 / 8), 0xff) } } });
        } else if (kind === 'commit') {
          call.write({ message: { $case: 'committed', value: {
            backupId: 1, startedAtMs: 1, finishedAtMs: 2, files: 1, logicalBytes: 0, newBytes: 0, storedBytes: 0, kind: 0, labels: {},
            deletable: false, hostname: 'node1', unreadableFiles: 0, isProtected: false,
          } } });
          call.end();
        }
      });
      call.on('end', () => call.end());
    },
    // Before DeleteResponse.deleted_backup_ids: the bytes no longer referenced, nothing else.
    delete: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<{ unreferencedBytes: number; deletedBackupIds: number[] }>) => {
      received.push('delete');
      callback(null, { unreferencedBytes: 1024, deletedBackupIds: [] }); // an empty list: nothing on the wire, as from that server
    },
  } as unknown as grpc.UntypedServiceImplementation);
  const config = loadServerConfig(sandbox.serverConfigFile);
  const listener = await listenWithMutualTls(server, config, createLogger('older', () => undefined), LiveClientRegistry.load(config, createLogger('older', () => undefined)));
  t.after(async () => {
    server.forceShutdown();
    listener.close();
    await sandbox.destroy();
  });
  return { sandbox, port: listener.port, received };
}

for (const older of OLDER_SERVERS) {
  test(`a server ${older.name} is refused before anything is sent, exit 1, saying why`, { timeout: 60_000 }, async (t) => {
    const { sandbox, port, received } = await startOlderServer(t, older);
    const data = join(sandbox.root, 'data');
    await mkdir(data, { recursive: true });
    await writeFile(join(data, 'file.txt'), 'kept only by a server that keeps everything this client sends\n');
    const nodeConfig = join(sandbox.root, 'node1.conf');
    await mkdir(join(sandbox.root, 'work', 'node1'), { recursive: true });
    await writeFile(nodeConfig, [...nodeConfigLines(sandbox, 'node1', port), `include = ${data}`, ''].join('\n'));

    const result = await sandbox.runClient(['-c', nodeConfig, '-e']);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stderr, /the backup server at 127\.0\.0\.1:\d+ runs a cpsbackup older than this client's: it does not keep inode flags/);
    assert.match(result.stderr, /upgrade cpsbackup on the server/);
    assert.deepEqual(received, [], 'nothing reaches the older server: no Begin, no entry, no commit');
  });
}

// Regression (red team redupgrade): against a server from before DeleteResponse.deleted_backup_ids, `-d 1 --force`
// printed "Deleted backup 0000001" alone, though such a server deletes the partial backups standing on it too.
test('-d --force against a server that does not name what it deleted says so', { timeout: 60_000 }, async (t) => {
  const { sandbox, port, received } = await startOlderServer(t, OLDER_SERVERS[1]);
  const nodeConfig = join(sandbox.root, 'node1.conf');
  await mkdir(join(sandbox.root, 'work', 'node1'), { recursive: true });
  await writeFile(nodeConfig, [...nodeConfigLines(sandbox, 'node1', port), `include = ${sandbox.root}`, ''].join('\n'));
  const forced = await sandbox.runClient(['-c', nodeConfig, '-d', '1', '--force']);
  assert.equal(forced.code, 0, forced.stdout + forced.stderr);
  assert.match(forced.stdout, /^Deleted backup 0000001; 1\.0 KiB .*the backup server runs an older cpsbackup, which does not say which other backups it deleted: partial backups standing on this one may have gone too \(see -l\)/);
  const plain = await sandbox.runClient(['-c', nodeConfig, '-d', '1']);
  assert.equal(plain.code, 0, plain.stdout + plain.stderr);
  assert.doesNotMatch(plain.stdout, /older cpsbackup/, 'without --force no partial goes');
  assert.deepEqual(received, ['delete', 'delete']);
});
