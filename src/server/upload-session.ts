// One backup as the protocol delivers it: Begin, entries with their content, then Commit or Abort.
// It checks what the client sends (order, paths, types, declared sizes) and hands everything to the
// store's write session, which owns packing, durability and the commit.
import type { BackupSession, ChunkStore } from '../chunkstore/store';
import type { BackupRecord } from '../chunkstore/store';
import type { ContentRef, ContentWriter } from '../chunkstore/session';
import { EntryType, type Begin, type Commit, type EntryBatch, type EntryMeta, type UploadRequest } from '../proto/cpsbackup';
import { newEntryOf } from './entry-convert';
import { entryPathProblem } from '../common/entry-path';
import { carriesContent } from '../common/entry-content';
import { ProtocolError } from '../common/errors';
import type { RunningUpload } from './activity';

interface OpenFile {
  readonly meta: EntryMeta;
  readonly writer: ContentWriter;
}

export class UploadSession {
  private session: BackupSession | undefined;
  private current: OpenFile | undefined;
  private readonly seenPaths = new Set<string>();
  private labels: Record<string, string> = {};
  private isFinished = false;

  constructor(
    private readonly store: ChunkStore,
    private readonly clientName: string,
    private readonly progress: RunningUpload,
  ) {}

  get backupNumber(): number | undefined {
    return this.session?.number;
  }

  /** Handles one message; returns the committed backup when the message was Commit. */
  async handle(request: UploadRequest): Promise<BackupRecord | undefined> {
    const message = request.message;
    if (message === undefined) throw new ProtocolError('empty upload message');
    if (this.isFinished) throw new ProtocolError(`message "${message.$case}" after the backup ended`);
    if (message.$case !== 'begin' && this.session === undefined) throw new ProtocolError('the first message must be Begin');
    switch (message.$case) {
      case 'begin': await this.begin(message.value); return undefined;
      case 'entry': await this.entry(message.value.meta, message.value.sameAsParent); return undefined;
      case 'data': await this.data(message.value.chunk); return undefined;
      case 'entryEnd': await this.entryEnd(message.value.sha256, message.value.size); return undefined;
      case 'batch': await this.batch(message.value); return undefined;
      case 'commit': return this.commit(message.value);
      case 'abort': throw new ProtocolError(`client aborted the backup: ${message.value.reason}`);
    }
  }

  private async begin(begin: Begin): Promise<void> {
    if (this.session !== undefined) throw new ProtocolError('Begin sent twice');
    this.labels = { ...begin.labels, ...(begin.clientVersion ? { 'client.version': begin.clientVersion } : {}) };
    this.session = await this.store.beginBackup(this.clientName, {
      kind: begin.kind, hostname: begin.hostname, labels: this.labels, parentNumber: begin.parentBackupId,
    });
    (this.progress as { backupNumber: number }).backupNumber = this.session.number;
  }

  /** Checks an entry's path and type; returns whether it carries content (a file or a read FIFO). */
  private admit(meta: EntryMeta | undefined): meta is EntryMeta {
    if (meta === undefined) throw new ProtocolError('entry without metadata');
    if (this.current !== undefined) throw new ProtocolError(`entry ${meta.path} started before ${this.current.meta.path} ended`);
    const problem = entryPathProblem(meta.path);
    if (problem !== undefined) throw new ProtocolError(`refused entry path ${JSON.stringify(meta.path)}: ${problem}`);
    if (this.seenPaths.has(meta.path)) throw new ProtocolError(`entry ${meta.path} sent twice`);
    this.seenPaths.add(meta.path);
    const hasContent = carriesContent(meta.type);
    if (!hasContent && meta.type !== EntryType.ENTRY_TYPE_DIRECTORY && meta.type !== EntryType.ENTRY_TYPE_SYMLINK) {
      throw new ProtocolError(`entry ${meta.path} has unknown type ${meta.type}`);
    }
    return hasContent;
  }

  private async batch(batch: EntryBatch): Promise<void> {
    for (const item of batch.entries) {
      const meta = item.meta;
      const hasContent = this.admit(meta);
      if (hasContent && !item.sameAsParent) await this.inlineContent(meta!, item.content);
      else if (item.content.length > 0) throw new ProtocolError(`entry ${meta!.path} carries content it cannot have`);
      else await this.entryAfterAdmit(meta!, hasContent, item.sameAsParent);
    }
  }

  private async entry(meta: EntryMeta | undefined, isSameAsParent: boolean): Promise<void> {
    const hasContent = this.admit(meta);
    await this.entryAfterAdmit(meta!, hasContent, isSameAsParent);
  }

  private async entryAfterAdmit(meta: EntryMeta, hasContent: boolean, isSameAsParent: boolean): Promise<void> {
    const session = this.session!;
    if (!hasContent) {
      await session.addEntry(newEntryOf(meta, 0), null);
      this.progress.files++;
      return;
    }
    if (isSameAsParent) {
      const parent = session.parentContent(Buffer.from(meta.path, 'utf8'));
      if (parent === undefined) {
        throw new ProtocolError(`entry ${meta.path} claims to be unchanged but the parent backup has no content for it`);
      }
      await this.addFile(meta, parent.entry.size, parent);
      return;
    }
    this.current = { meta, writer: session.openContent(`${this.clientName}:${meta.path}`) };
  }

  /** A small file's whole content sent in a batch; the hash is computed here, not declared by the client. */
  private async inlineContent(meta: EntryMeta, content: Buffer): Promise<void> {
    const writer = this.session!.openContent(`${this.clientName}:${meta.path}`);
    const stored = await writer.storeWhole(content);
    this.progress.bytes += content.length;
    await this.addFile(meta, stored.size, stored);
  }

  private async data(chunk: Buffer): Promise<void> {
    if (this.current === undefined) throw new ProtocolError('data outside a file entry');
    await this.current.writer.write(chunk);
    this.progress.bytes += chunk.length;
  }

  private async entryEnd(hash: Buffer, size: number): Promise<void> {
    const current = this.current;
    if (current === undefined) throw new ProtocolError('entry end outside a file entry');
    this.current = undefined;
    const stored = await current.writer.finish(hash, size);
    await this.addFile(current.meta, stored.size, stored);
  }

  private async addFile(meta: EntryMeta, size: number, content: ContentRef): Promise<void> {
    await this.session!.addEntry(newEntryOf(meta, size), content);
    this.progress.files++;
    this.progress.newBytes = this.session!.stored.newBytes;
  }

  private async commit(commit: Commit): Promise<BackupRecord> {
    if (this.current !== undefined) throw new ProtocolError(`commit while ${this.current.meta.path} is still open`);
    const labels = commit.warnings.length > 0 ? { ...this.labels, warnings: commit.warnings.join('\n') } : this.labels;
    const committed = await this.session!.commit(labels, 0);
    this.isFinished = true;
    return committed;
  }

  /** Drops everything of an unfinished backup; never throws. */
  async abandon(cause: unknown): Promise<void> {
    this.isFinished = true;
    this.current = undefined;
    await this.session?.abandon(cause);
  }
}
