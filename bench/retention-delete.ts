// Measures what retention costs the server's thread when it deletes a client's oldest backup: the
// deletion and ClientChunksTable.forgetUnreferenced (by candidates), against the scan of all of the
// client's remaining entries that forgetting used to be (forgetAllUnreferenced, in the same run).
// A synthetic catalog (rows only, no packs): one client, every file its own one-chunk content, a
// share of the files changed each night as retention sees them.
// Usage: node dist/bench/retention-delete.js [backups] [filesPerBackup] [changedPerNight]
//        (defaults 100, 20572, 200: the bench corpus's file count, 2 million entries)
import { rmSync } from 'node:fs';
import { newContent, syntheticCatalog } from './synthetic-catalog';

const DELETIONS = 3;

function millisecondsOf(work: () => void): number {
  const begin = process.hrtime.bigint();
  work();
  return Number(process.hrtime.bigint() - begin) / 1e6;
}

function main(): void {
  const backups = Number(process.argv[2] ?? 100);
  const files = Number(process.argv[3] ?? 20_572);
  const changedPerNight = Number(process.argv[4] ?? 200);
  const { folder, catalog, clientId, stats, entries, contentIds } = syntheticCatalog(files, 'retention');
  try {
    const started = Date.now();
    const commits: number[] = [];
    for (let night = 0; night < backups; night++) {
      for (let changed = 0; changed < (night === 0 ? 0 : changedPerNight); changed++) {
        const index = (night * changedPerNight + changed) % files;
        contentIds[index] = newContent(catalog, clientId, index, night);
      }
      const backup = catalog.backups.create(clientId, 0, 'bench', {}, night);
      catalog.transaction(() => catalog.entries.insert(backup.id, entries, contentIds));
      commits.push(millisecondsOf(() => catalog.backups.commit(backup.id, stats, {}, night + 1)));
    }
    console.log(`catalog filled in ${((Date.now() - started) / 1000).toFixed(1)} s: ${backups} backups of ${files} files, `
      + `${changedPerNight} changed a night (${(backups * files / 1e6).toFixed(2)} million entries)`);
    const lastCommits = commits.slice(-10).sort((a, b) => a - b);
    console.log(`commit of a backup: median ${lastCommits[5].toFixed(1)} ms over the last 10`);
    for (let deletion = 0; deletion < DELETIONS; deletion++) {
      const oldest = catalog.backups.committed(clientId)[0];
      // The old way first, on the same rows, rolled back: delete, then scan all of the client's entries.
      let scanned = 0;
      const scan = millisecondsOf(() => {
        try {
          catalog.transaction(() => {
            catalog.backups.delete(oldest.id);
            scanned = catalog.clientChunks.forgetAllUnreferenced(clientId);
            throw new RolledBack();
          });
        } catch (error) {
          if (!(error instanceof RolledBack)) throw error;
        }
      });
      let forgotten = 0;
      const counted = millisecondsOf(() => catalog.transaction(() => {
        catalog.backups.delete(oldest.id);
        forgotten = catalog.clientChunks.forgetUnreferenced(clientId).chunks;
      }, true));
      if (forgotten !== scanned) throw new Error(`backup ${oldest.number}: ${forgotten} rows forgotten by candidates, ${scanned} by the scan`);
      console.log(`delete backup ${oldest.number}: ${counted.toFixed(1)} ms by candidates, ${scan.toFixed(1)} ms with the full scan `
        + `(${(scan / counted).toFixed(1)}x), ${forgotten} chunks forgotten`);
    }
    catalog.close();
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

class RolledBack extends Error {}

main();
