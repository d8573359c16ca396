// Gathers small entries (folders, links, unchanged files, small files with their content) into
// EntryBatch messages, for upload and restore alike: one message per file was what limited
// trees of many small files.
import type { BatchedEntry, EntryBatch } from '../../proto/cpsbackup';

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
  private entries: BatchedEntry[] = [];
  private bytes = 0;
  /** Files the gathered entries stand for (a carried run stands for many). */
  private files = 0;

  /** `send` must apply backpressure: add() and flush() wait for it. */
  constructor(private readonly send: (batch: EntryBatch) => Promise<void>) {}

  async add(entry: BatchedEntry): Promise<void> {
    this.entries.push(entry);
    const meta = entry.meta;
    // Every byte the message will carry counts: a restore's small files travel as stored chunks, not as
    // content, and uncounted they let 1,024 of them past the 4 MiB message limit (the restore failed).
    this.bytes += entry.content.length + entry.sha256.length + entry.chunkHashes.length + ENTRY_OVERHEAD;
    for (const chunk of entry.chunks) this.bytes += chunk.payload.length + chunk.hash.length + CHUNK_OVERHEAD;
    if (meta !== undefined) {
      this.bytes += meta.path.length + meta.linkTarget.length + meta.hardlinkTarget.length + meta.user.length * 3 + meta.group.length * 3
        + 10 * meta.extents.length;
      for (const xattr of meta.xattrs) this.bytes += xattr.name.length + xattr.value.length + 8;
    }
    // A carried run counts as the files it stands for: a long one leaves at once, so the server copies
    // while the walk goes on (held for 1,024 entries, the runs of a no-change backup all waited for its
    // end), and short ones gather as entries do.
    if (entry.carried !== undefined) {
      this.files += entry.carried.count;
      this.bytes += entry.carried.firstPath.length + entry.carried.lastPath.length;
    } else {
      this.files++;
    }
    if (this.files >= MAX_BATCH_ENTRIES || this.bytes >= MAX_BATCH_BYTES) await this.flush();
  }

  /** Sends what is gathered; must run before any message that has to follow these entries. */
  async flush(): Promise<void> {
    if (this.entries.length === 0) return;
    const entries = this.entries;
    this.entries = [];
    this.bytes = 0;
    this.files = 0;
    await this.send({ entries });
  }
}
