// Writes of bytes the store already holds, made only so that a backup takes as long as if they were
// new. A client must send a chunk that only other clients hold (it may not learn that they do), and
// the store keeps one copy; skipping the write made such a backup measurably faster (48 MiB: 218 ms
// against 280 ms), which told the client that another client has those bytes: the "confirmation of
// a file" oracle. A cover write goes through a pack writer with the store's own framing, staging
// budget, pack size and backend, so it is sealed, staged, synced and stored (link and folder sync, or
// the PUT) as a pack of new chunks is; then the object is deleted. Only its intent is recorded (before the
// put, as for every pack), and forgotten once the object is deleted: a crash between the put and the delete
// leaves an orphan, which the store deletes when it next opens (by its name, whatever the intents say).
import type { PackBackend } from '../backend/pack-backend';
import { errorMessage } from '../../common/errors';
import type { Logger } from '../../common/logger';
import { newCoverPackName } from './pack-files';
import { PackWriter, type PackWriterOptions } from './pack-writer';

/** The deletions of cover packs under way, of every session of a store: its close waits for them. */
export class CoverDeletions {
  private readonly running = new Set<Promise<void>>();

  /**
   * forgetIntent: called once the object is deleted, to drop the pack_intents row its put left. The row only
   * lets a start tell this store's leftovers from another catalog's objects; with the object gone it is of
   * no use, and a long-running server would otherwise gather one per cover pack until its next start.
   */
  constructor(
    private readonly backend: Pick<PackBackend, 'deletePack' | 'location'>,
    private readonly logger: Logger | undefined,
    private readonly forgetIntent: (name: string) => void = () => undefined,
  ) {}

  /**
   * Not waited for by the backup: a pack of new chunks is recorded instead, which costs less than the
   * unlink of a synced 48 MiB file (17 ms here) or a DELETE. One that fails fails no backup (its data is
   * stored); the object is named in the log, and the next start deletes it (its intent stays until then).
   */
  start(name: string): void {
    const deletion = this.backend.deletePack(name).then(() => this.forgetIntentOf(name), (error: unknown) => {
      this.logger?.warn(`cover pack ${name} in ${this.backend.location} could not be deleted (${errorMessage(error)}); the next start deletes it`);
    }).finally(() => this.running.delete(deletion));
    this.running.add(deletion);
  }

  /** A row left (a full catalog disk) costs nothing but the row: the next start clears every intent. */
  private forgetIntentOf(name: string): void {
    try {
      this.forgetIntent(name);
    } catch (error) {
      this.logger?.warn(`the intent of deleted cover pack ${name} stays in the catalog until the next start: ${errorMessage(error)}`);
    }
  }

  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running);
  }
}

export function newCoverWriter(stagingDirectory: string, backend: Pick<PackBackend, 'putPack'>, deletions: CoverDeletions, options: PackWriterOptions): PackWriter {
  const storeThenDelete = {
    async putPack(name: string, stagedFile: string): Promise<void> {
      await backend.putPack(name, stagedFile);
      deletions.start(name);
    },
  };
  // No chunk ids: nothing reads them, and no row may point into a pack that is deleted at once.
  return new PackWriter(stagingDirectory, storeThenDelete, (sealed) => sealed.records.map(() => 0), { ...options, packName: newCoverPackName });
}
