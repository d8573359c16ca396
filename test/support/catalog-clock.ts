// Test-only: moves committed backups in time by rewriting their times in the catalog of a stopped
// server, so retention over weeks of history can be tested in seconds. Production code never changes
// a backup's time; this writes the catalog's SQLite file directly, as an operator never should.
import Database from 'better-sqlite3';
import { join } from 'node:path';

/** Sets started_at and finished_at of each of the client's backups to timeOf(number); the server must be stopped. */
export function setBackupTimes(storeDirectory: string, clientName: string, timeOf: (number: number) => number): void {
  const database = new Database(join(storeDirectory, 'catalog.db'));
  try {
    const numbers = database.prepare(`SELECT b.number FROM backups b JOIN clients c ON c.id = b.client_id WHERE c.name = ?`)
      .pluck().all(clientName) as number[];
    const update = database.prepare(`UPDATE backups SET started_at = ?, finished_at = ?
      WHERE number = ? AND client_id = (SELECT id FROM clients WHERE name = ?)`);
    database.transaction(() => {
      for (const number of numbers) update.run(timeOf(number) - 60_000, timeOf(number), number, clientName);
    })();
  } finally {
    database.close();
  }
}
