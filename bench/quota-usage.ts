// Measures what a quota check costs at backup start: ChunkStore.clientUsage's catalog query on a
// synthetic catalog of many backups (rows only, no packs), several clients sharing part of their chunks.
// Usage: node dist/bench/quota-usage.js [backupsPerClient] [chunksPerClient] [entriesPerBackup]
//        (defaults 200, 100000, 2000: 3 clients, 30 % of chunks shared by all, 1.2 M entries)
import { mkdtempSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog } from '../src/chunkstore/catalog/catalog';

const CLIENTS = 3;
const SHARED_SHARE = 0.3;
const CHUNK_STORED_SIZE = 96 * 1024;

function hashOf(label: string): Buffer {
  return createHash('sha256').update(label).digest();
}

function main(): void {
  const backupsPerClient = Number(process.argv[2] ?? 200);
  const chunksPerClient = Number(process.argv[3] ?? 100_000);
  const entriesPerBackup = Number(process.argv[4] ?? 2000);
  const folder = mkdtempSync(join(tmpdir(), 'cpsbackup-quota-bench-'));
  try {
    const catalog = new Catalog(join(folder, 'catalog.db'));
    // The bench fills the tables the query reads (and the backups and entries it must not depend on) directly.
    const db = (catalog as unknown as { database: { connection: import('better-sqlite3').Database } }).database.connection;
    const started = Date.now();
    db.transaction(() => {
      db.prepare(`INSERT INTO packs (id, name, size, created_at) VALUES (1, 'p', 0, 0)`).run();
      const addClient = db.prepare(`INSERT INTO clients (id, name) VALUES (?, ?)`);
      const addChunk = db.prepare(`INSERT OR IGNORE INTO chunks (hash, pack_id, offset, stored_size, raw_size, refs) VALUES (?, 1, 0, ?, ?, 1)`);
      const addClientChunk = db.prepare(`INSERT INTO client_chunks (client_id, hash, stored_size) VALUES (?, ?, ?)`);
      const addBackup = db.prepare(`INSERT INTO backups (client_id, number, state, started_at) VALUES (?, ?, 'committed', 0)`);
      const addEntry = db.prepare(`INSERT INTO entries (backup_id, path, type, mode, uid, gid, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec, inode, device, size)
                                   VALUES (?, ?, 1, 420, 0, 0, 0, 0, 0, 0, 0, 0, 0)`);
      const sharedCount = Math.floor(chunksPerClient * SHARED_SHARE);
      for (let client = 1; client <= CLIENTS; client++) {
        addClient.run(client, `client${client}`);
        for (let index = 0; index < chunksPerClient; index++) {
          const hash = hashOf(index < sharedCount ? `shared ${index}` : `client ${client} chunk ${index}`);
          addChunk.run(hash, CHUNK_STORED_SIZE, CHUNK_STORED_SIZE * 1.3);
          addClientChunk.run(client, hash, CHUNK_STORED_SIZE);
        }
        for (let number = 1; number <= backupsPerClient; number++) {
          const backupId = Number(addBackup.run(client, number).lastInsertRowid);
          for (let entry = 0; entry < entriesPerBackup; entry++) addEntry.run(backupId, Buffer.from(`/data/file-${entry}`));
        }
      }
    })();
    console.log(`catalog filled in ${((Date.now() - started) / 1000).toFixed(1)} s: ${CLIENTS} clients, ${backupsPerClient} backups each, `
      + `${entriesPerBackup} entries per backup, ${chunksPerClient} chunks per client (${SHARED_SHARE * 100} % shared by all)`);
    const timings: number[] = [];
    let usage = catalog.usage.clientUsage(1);
    for (let run = 0; run < 5; run++) {
      const begin = process.hrtime.bigint();
      usage = catalog.usage.clientUsage(1);
      timings.push(Number(process.hrtime.bigint() - begin) / 1e6);
    }
    const sharingTimings: number[] = [];
    let sharing = catalog.usage.sharing(1, usage);
    for (let run = 0; run < 5; run++) {
      const begin = process.hrtime.bigint();
      sharing = catalog.usage.sharing(1, usage);
      sharingTimings.push(Number(process.hrtime.bigint() - begin) / 1e6);
    }
    timings.sort((a, b) => a - b);
    sharingTimings.sort((a, b) => a - b);
    console.log(`clientUsage(client1): ${usage.bytes} bytes over ${usage.chunks} chunks`);
    console.log(`query time: median ${timings[2].toFixed(1)} ms, min ${timings[0].toFixed(1)} ms, max ${timings[4].toFixed(1)} ms (5 runs, warm cache)`);
    console.log(`sharing(client1), the operator's split: ${sharing.ownBytes} own + ${sharing.sharedBytes} in chunks others hold too; `
      + `median ${sharingTimings[2].toFixed(1)} ms, min ${sharingTimings[0].toFixed(1)} ms, max ${sharingTimings[4].toFixed(1)} ms`);
    catalog.close();
  } finally {
    if (process.env.KEEP_QUOTA_BENCH === undefined) rmSync(folder, { recursive: true, force: true });
    else console.log(folder);
  }
}

main();
