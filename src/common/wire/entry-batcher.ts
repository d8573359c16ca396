// Gathers small entries (folders, links, unchanged files, small files with their content) into
// EntryBatch messages, for upload and restore alike: one message per file was what limited
// trees of many small files.
import type { BatchedEntry, EntryBatch } from '../../proto/cpsbackup';
import { MessageBatcher } from './message-batcher';

/** A batch is sent once it holds this many entries... */
const MAX_BATCH_ENTRIES = 1024;
/** ...or about this many bytes; with one inline file of up to 1 MiB it stays well under the message limit. */
const MAX_BATCH_BYTES = 1024 * 1024;
/** Bytes of an entry's fixed fields, rounded up. */
const ENTRY_OVERHEAD = 80;
/** Bytes of a stored chunk's fixed fields and framing, rounded up. */
const CHUNK_OVERHEAD = 16;

/** Where entries go: gathered into batches, or (for an older peer) one message sequence each. */
export interface EntrySink {
  add(entry: BatchedEntry): Promise<void>;
  /** Sends what is gathered; must run before any message that has to follow these entries. */
  flush(): Promise<void>;
}

export class EntryBatcher implements EntrySink {
  private readonly batcher: MessageBatcher<BatchedEntry>;

  /** `send` must apply backpressure: add() and flush() wait for it. */
  constructor(send: (batch: EntryBatch) => Promise<void>) {
    this.batcher = new MessageBatcher({ maxItems: MAX_BATCH_ENTRIES, maxBytes: MAX_BATCH_BYTES }, (entries) => send({ entries }));
  }

  async add(entry: BatchedEntry): Promise<void> {
    const meta = entry.meta;
    // Every byte the message will carry counts: a restore's small files travel as stored chunks, not as
    // content, and uncounted they let 1,024 of them past the 4 MiB message limit (the restore failed).
    let bytes = entry.content.length + entry.sha256.length + entry.chunkHashes.length + ENTRY_OVERHEAD;
    for (const chunk of entry.chunks) bytes += chunk.payload.length + chunk.hash.length + CHUNK_OVERHEAD;
    if (meta !== undefined) {
      bytes += meta.path.length + meta.linkTarget.length + meta.hardlinkTarget.length + meta.user.length * 3 + meta.group.length * 3
        + 10 * meta.extents.length;
      for (const xattr of meta.xattrs) bytes += xattr.name.length + xattr.value.length + 8;
    }
    // A carried run counts as the files it stands for: a long one leaves at once, so the server copies
    // while the walk goes on (held for 1,024 entries, the runs of a no-change backup all waited for its
    // end), and short ones gather as entries do.
    if (entry.carried !== undefined) bytes += entry.carried.firstPath.length + entry.carried.lastPath.length;
    await this.batcher.add(entry, bytes, entry.carried?.count ?? 1);
  }

  /** Sends what is gathered; must run before any message that has to follow these entries. */
  flush(): Promise<void> {
    return this.batcher.flush();
  }
}
