// A gRPC client built from the generated code with a node's real credentials, for requests the
// cpsbackup CLI would never send: foreign client names, crafted upload streams, oversized frames.
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { loadNodeConfig } from '../../src/common/config/node-config';
import { channelOptions, clientCredentials } from '../../src/common/tls/credentials';
import { BackupClient, EntryType, type EntryMeta, type UploadRequest, type UploadResponse } from '../../src/proto/cpsbackup';

export function hostileClient(configFile: string, extraOptions: grpc.ChannelOptions = {}): BackupClient {
  const config = loadNodeConfig(configFile);
  return new BackupClient(`${config.server}:${config.port}`, clientCredentials(config), { ...channelOptions(config), ...extraOptions });
}

export interface UploadOutcome {
  readonly error: grpc.ServiceError | undefined;
  readonly responses: UploadResponse[];
}

/** Sends the messages; with isEnding false the stream is left open, so the server must time it out. */
export function sendUpload(client: BackupClient, messages: readonly UploadRequest[], isEnding = true): Promise<UploadOutcome> {
  return new Promise((resolve) => {
    const call = client.upload();
    const responses: UploadResponse[] = [];
    call.on('data', (response: UploadResponse) => responses.push(response));
    call.on('error', (error: grpc.ServiceError) => resolve({ error, responses }));
    call.on('end', () => resolve({ error: undefined, responses }));
    for (const message of messages) call.write(message);
    if (isEnding) call.end();
  });
}

export function meta(path: string | Buffer, type: EntryType, extra: Partial<Omit<EntryMeta, 'linkTarget'>> & { linkTarget?: string | Buffer } = {}): EntryMeta {
  const { linkTarget, ...rest } = extra;
  return {
    path: Buffer.from(path), type, mode: type === EntryType.ENTRY_TYPE_DIRECTORY ? 0o755 : 0o644, uid: 0, gid: 0, mtimeSec: 1_600_000_000, mtimeNsec: 0,
    ctimeSec: 1_600_000_000, ctimeNsec: 0, inode: 1, device: 1, size: 0, user: '', group: '', nlink: 1, rdev: 0, xattrs: [], extents: [], hardlinkTarget: Buffer.alloc(0), inodeFlags: 0, inodeFlagsKnown: false, damage: '', ...rest,
    linkTarget: Buffer.from(linkTarget ?? ''),
  };
}

export const begin: UploadRequest = { message: { $case: 'begin', value: { hostname: 'hostile', kind: 0, parentBackupId: 0, labels: {}, clientVersion: 'test', isScheduled: false } } };
export const commit: UploadRequest = { message: { $case: 'commit', value: { warnings: [], unreadableFiles: 0 } } };

/** Entry, Data and EntryEnd for one file with the given content. */
export function fileMessages(path: string | Buffer, content: Buffer): UploadRequest[] {
  return [
    { message: { $case: 'entry', value: { meta: meta(path, EntryType.ENTRY_TYPE_FILE, { size: content.length }), sameAsParent: false } } },
    { message: { $case: 'data', value: { chunk: content } } },
    { message: { $case: 'entryEnd', value: { sha256: createHash('sha256').update(content).digest(), size: content.length, damage: '' } } },
  ];
}

export function entryMessage(entryMeta: EntryMeta): UploadRequest {
  return { message: { $case: 'entry', value: { meta: entryMeta, sameAsParent: false } } };
}
