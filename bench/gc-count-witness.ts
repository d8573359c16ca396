// Measures what garbage collection's count witness costs the server's thread (red team F7): the index on
// client_contents(content_id) at a first backup's and a no-change backup's commit, and the witness probe per
// candidate in the sweep after retention deletes the oldest backup. CPU time (process.cpuUsage), not wall
// time: the machine is shared. A synthetic catalog (rows only, no packs), one one-chunk content per file.
// Usage: node dist/bench/gc-count-witness.js [files] [nights] [changedPerNight]   (defaults 20000, 12, 200)
// Paired runs: build the code before the change into another outDir and run both alternately.
import { rmSync } from 'node:fs';
import { newContent, syntheticCatalog } from './synthetic-catalog';

const KEEP = 7;
const nothingHeld = { hasContent: () => false, hasChunk: () => false };

function cpuMillisecondsOf(work: () => void): number {
  const begin = process.cpuUsage();
  work();
  const used = process.cpuUsage(begin);
  return (used.user + used.system) / 1000;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function main(): void {
  const files = Number(process.argv[2] ?? 20_000);
  const nights = Number(process.argv[3] ?? 12);
  const changedPerNight = Number(process.argv[4] ?? 200);
  const { folder, catalog, clientId, stats, entries, contentIds } = syntheticCatalog(files, 'witness');
  try {
    const commits: number[] = [];
    const noChangeCommits: number[] = [];
    const sweeps: number[] = [];
    for (let night = 0; night < nights; night++) {
      // Every other night no file changed; the others change changedPerNight files.
      const changed = night === 0 || night % 2 === 1 ? 0 : changedPerNight;
      for (let index = 0; index < changed; index++) contentIds[(night * changedPerNight + index) % files] = newContent(catalog, clientId, (night * changedPerNight + index) % files, night);
      const backup = catalog.backups.create(clientId, 0, 'bench', {}, night);
      catalog.transaction(() => catalog.entries.insert(backup.id, entries, contentIds));
      const commit = cpuMillisecondsOf(() => catalog.backups.commit(backup.id, stats, {}, night + 1));
      (changed === 0 && night > 0 ? noChangeCommits : commits).push(commit);
      // Retention, then the collection it starts.
      const committed = catalog.backups.committed(clientId);
      sweeps.push(cpuMillisecondsOf(() => {
        if (committed.length > KEEP) {
          catalog.transaction(() => {
            catalog.backups.delete(committed[0].id);
            catalog.clientChunks.forgetUnreferenced(clientId);
          }, true);
        }
        catalog.garbage.sweep(() => nothingHeld);
      }));
    }
    console.log(`${files} files, ${nights} nights: first commit ${commits[0].toFixed(1)} ms CPU; no-change commit median ${median(noChangeCommits).toFixed(1)} ms; `
      + `retention + sweep median ${median(sweeps.slice(KEEP)).toFixed(1)} ms`);
    catalog.close();
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

main();
