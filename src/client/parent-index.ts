// The metadata of the client's newest backup, read while the walk goes on: what lets an unchanged
// file travel as a reference only, or, in a run of such files, not travel at all. The server sends it
// in path order, so a path is settled once the index has reached it; the walk waits only when it is
// ahead. Read whole before the walk, the index of 20,000 files took a third of a no-change backup.
import { BackupService, type BackupClient } from '../proto/cpsbackup';
import type { ParentFile } from './entry-meta';
import { ProtocolError } from '../common/errors';
import { deserializeParentIndexBatch, type ParentIndexBatch } from '../common/wire/parent-batch-codec';
import type { ParentIndexEntry } from '../common/wire/entry-meta-reader';
import type { Xattr } from '../proto/cpsbackup';

/** A parent file and its place in the parent's path order (0 for the first path the server sent). */
export type RankedParentFile = ParentFile & { readonly rank: number };

/** What lookup() answers for a path the index has not reached yet. */
export const NOT_YET = Symbol('not yet');

export class ParentIndex {
  /** By path as a latin1 string (one character per byte). */
  private readonly entries = new Map<string, ParentIndexEntry>();
  /** Each owner name once, however many files it owns. */
  private readonly ownerNames = new Map<string, string>();
  /**
   * Each list of ACLs and their names once, however many files hold it (a tree given one ACL holds
   * one): kept once, and the sender checks each list's names once (entry-sender.ts).
   */
  private readonly aclLists = new Map<string, readonly Xattr[]>();
  /**
   * The last path received, as latin1 like the keys: every path up to it is settled. Strings of
   * one-byte characters compare as their bytes do, and the key is made anyway.
   */
  private reached: string | undefined;
  /** Entries received, damaged ones included: the next one's rank. */
  private received = 0;
  private isComplete = false;
  private failure: unknown;
  private isClosed = false;
  private waiters: (() => void)[] = [];
  private cancel: () => void = () => undefined;

  private constructor(
    readonly backupId: number,
    /** The server takes EntryBatch messages (servers before them never say so). */
    readonly acceptsBatches: boolean,
    /** The server takes carried runs, and sends the fields a carried file must match. */
    readonly acceptsCarriedRuns: boolean,
    /**
     * The server keeps inode flags, the newest of the fields this client sends: a server that does not say so
     * is older, and drops them (and, before 2 December, xattrs, ACLs, holes and hard links too) without a word.
     */
    readonly keepsInodeFlags: boolean,
  ) {}

  /**
   * Starts reading the index; returns once the first batch has said which backup it is. `toError`
   * turns a failed call into the error the backup reports.
   */
  static async open(client: BackupClient, toError: (error: unknown) => unknown): Promise<ParentIndex> {
    // Read by its own decoder: the index keeps a few fields of each entry, not an EntryMeta.
    const method = BackupService.parent;
    const call = client.makeServerStreamRequest(method.path, method.requestSerialize, deserializeParentIndexBatch,
      { backupId: 0, unchangedCheckOnly: true, marksDamaged: true });
    const batches = (call as AsyncIterable<ParentIndexBatch>)[Symbol.asyncIterator]();
    const first = await batches.next().catch((error: unknown) => { throw toError(error); });
    const batch: ParentIndexBatch | undefined = first.done === true ? undefined : first.value;
    const index = new ParentIndex(batch?.backupId ?? 0, batch?.acceptsBatches === true,
      batch?.acceptsCarriedRuns === true && batch.acceptsBatches, batch?.keepsInodeFlags === true);
    index.cancel = () => call.cancel();
    if (batch === undefined) {
      index.isComplete = true;
      return index;
    }
    try {
      index.add(batch);
    } catch (error) {
      call.cancel();
      throw error;
    }
    void index.readRest(batches, toError);
    return index;
  }

  /** The parent's file at this path, undefined if it has none, NOT_YET if the index has not reached it. */
  lookup(path: Buffer): RankedParentFile | undefined | typeof NOT_YET {
    if (this.failure !== undefined) throw this.failure;
    if (this.isClosed) throw new Error('the parent index was read after it was closed');
    const key = path.toString('latin1');
    if (!this.isComplete && (this.reached === undefined || key > this.reached)) return NOT_YET;
    return this.entries.get(key);
  }

  /** The parent's file at this path (undefined if it has none), once the index has reached it. */
  async get(path: Buffer): Promise<RankedParentFile | undefined> {
    for (;;) {
      const found = this.lookup(path);
      if (found !== NOT_YET) return found;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Stops reading (after the walk the rest of the index, files deleted since, answers nothing; after a failure nothing is asked). */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (!this.isComplete) this.cancel();
    this.wakeWaiters();
  }

  /**
   * Each entry as decodeParentIndexEntry read it (only what the unchanged check reads), owner names
   * shared: the index lives through the whole walk, and keeping each decoded entry whole (its path,
   * empty lists and names) made every young-generation collection copy it.
   */
  private add(batch: ParentIndexBatch): void {
    const damaged = new Set(batch.damaged);
    batch.entries.forEach((entry, index) => {
      // Ranks and "reached" mean something only in path order; carried runs rest on the ranks.
      if (this.reached !== undefined && this.reached >= entry.key) {
        throw new ProtocolError('the server sent the parent backup\'s entries out of path order');
      }
      this.reached = entry.key;
      entry.rank = this.received++;
      // A damaged one takes its rank, so no run spans it, but is not the parent's file: it is sent again.
      // So is one backed up without its inode flags (before they were kept, or by an older client) by a
      // server that keeps them: read once more, its flags are stored (its content is not, being there).
      if (damaged.has(index) || (batch.keepsInodeFlags && !entry.inodeFlagsKnown)) return;
      entry.user = this.ownerName(entry.user);
      entry.group = this.ownerName(entry.group);
      if (entry.aclXattrs !== undefined) entry.aclXattrs = this.aclList(entry.aclXattrs);
      this.entries.set(entry.key, entry);
    });
  }

  private ownerName(name: string): string {
    const known = this.ownerNames.get(name);
    if (known !== undefined) return known;
    this.ownerNames.set(name, name);
    return name;
  }

  /** The list kept for these ACLs: the one kept already for the same bytes, else a copy (the entry holds views of its message). */
  private aclList(xattrs: readonly Xattr[]): readonly Xattr[] {
    // Names and values as latin1 (a byte a character), each behind its length: no two lists share a key.
    let key = '';
    for (const { name, value } of xattrs) key += `${name.length}:${name.toString('latin1')}${value.length}:${value.toString('latin1')}`;
    const known = this.aclLists.get(key);
    if (known !== undefined) return known;
    const kept = xattrs.map(({ name, value }) => ({ name: Buffer.from(name), value: Buffer.from(value) }));
    this.aclLists.set(key, kept);
    return kept;
  }

  private async readRest(batches: AsyncIterator<ParentIndexBatch>, toError: (error: unknown) => unknown): Promise<void> {
    try {
      for (;;) {
        const next = await batches.next();
        if (next.done === true) break;
        this.add(next.value);
        this.wakeWaiters();
      }
      this.isComplete = true;
    } catch (error) {
      if (!this.isClosed) this.failure = error instanceof ProtocolError ? error : toError(error);
      this.cancel();
    }
    this.wakeWaiters();
  }

  private wakeWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
