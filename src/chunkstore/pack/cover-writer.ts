// Writes of bytes the store already holds, made only so that a backup takes as long as if they were
// new. A client must send a chunk that only other clients hold (it may not learn that they do), and
// the store keeps one copy; skipping the write made such a backup measurably faster (48 MiB: 218 ms
// against 280 ms), which told the client that another client has those bytes: the "confirmation of
// a file" oracle. A cover write goes through a pack writer with the store's own framing, staging
// budget, pack size and backend, so it is sealed, staged, synced and stored (link and folder sync, or
// the PUT) as a pack of new chunks is; then the object is deleted. Nothing of it is recorded: a crash
// between the put and the delete leaves an orphan, which the store deletes when it next opens.
import type { PackBackend } from '../backend/pack-backend';
import { newCoverPackName } from './pack-files';
import { PackWriter, type PackWriterOptions } from './pack-writer';

export function newCoverWriter(stagingDirectory: string, backend: Pick<PackBackend, 'putPack' | 'deletePack'>, options: PackWriterOptions): PackWriter {
  const storeThenDelete = {
    async putPack(name: string, stagedFile: string): Promise<void> {
      await backend.putPack(name, stagedFile);
      await backend.deletePack(name);
    },
  };
  // No chunk ids: nothing reads them, and no row may point into a pack that is deleted at once.
  return new PackWriter(stagingDirectory, storeThenDelete, (sealed) => sealed.records.map(() => 0), { ...options, packName: newCoverPackName });
}
