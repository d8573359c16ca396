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

/** Where entries go: gathered into batches, or (for an older peer) one message sequence each. */
export interface EntrySink {
  add(entry: BatchedEntry): Promise<void>;
  /** Sends what is gathered; must run before any message that has to follow these entries. */
  flush(): Promise<void>;
}

export class EntryBatcher implements EntrySink {
  private entries: BatchedEntry[] = [];
  private bytes = 0;

  /** `send` must apply backpressure: add() and flush() wait for it. */
  constructor(private readonly send: (batch: EntryBatch) => Promise<void>) {}

  async add(entry: BatchedEntry): Promise<void> {
    this.entries.push(entry);
    // Three bytes per UTF-16 unit bounds a path's UTF-8 size without encoding it.
    this.bytes += entry.content.length + ENTRY_OVERHEAD + 3 * ((entry.meta?.path.length ?? 0) + (entry.meta?.linkTarget.length ?? 0));
    if (this.entries.length >= MAX_BATCH_ENTRIES || this.bytes >= MAX_BATCH_BYTES) await this.flush();
  }

  /** Sends what is gathered; must run before any message that has to follow these entries. */
  async flush(): Promise<void> {
    if (this.entries.length === 0) return;
    const entries = this.entries;
    this.entries = [];
    this.bytes = 0;
    await this.send({ entries });
  }
}
