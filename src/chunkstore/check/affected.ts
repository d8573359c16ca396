// Maps damage back to what a user cares about: which files of which backups no longer restore.
// A content is broken if any of its chunks is; every entry pointing at it, in any backup, is affected.
import type { Catalog } from '../catalog/catalog';
import type { AffectedBackup, AffectedFile } from './report';

export function affectedFiles(catalog: Catalog, damagedChunkIds: readonly number[], damagedContentIds: readonly number[]):
  { files: AffectedFile[]; backups: AffectedBackup[] } {
  if (damagedChunkIds.length === 0 && damagedContentIds.length === 0) return { files: [], backups: [] };
  const database = catalog.sqlite;
  // Temp tables live in the connection's own temp schema: the store's catalog file is not written.
  database.exec(`CREATE TEMP TABLE IF NOT EXISTS check_damaged_chunks (id INTEGER PRIMARY KEY);
                 CREATE TEMP TABLE IF NOT EXISTS check_damaged_contents (id INTEGER PRIMARY KEY);
                 DELETE FROM check_damaged_chunks; DELETE FROM check_damaged_contents;`);
  try {
    catalog.transaction(() => {
      const addChunk = database.prepare(`INSERT OR IGNORE INTO check_damaged_chunks (id) VALUES (?)`);
      for (const id of damagedChunkIds) addChunk.run(id);
      const addContent = database.prepare(`INSERT OR IGNORE INTO check_damaged_contents (id) VALUES (?)`);
      for (const id of damagedContentIds) addContent.run(id);
      database.prepare(`INSERT OR IGNORE INTO check_damaged_contents (id)
        SELECT DISTINCT content_id FROM content_chunks WHERE chunk_id IN (SELECT id FROM check_damaged_chunks)`).run();
    });
    const rows = database.prepare(
      `SELECT c.name AS clientName, b.number AS backupNumber, e.path, e.content_id AS contentId
       FROM entries e JOIN backups b ON b.id = e.backup_id JOIN clients c ON c.id = b.client_id
       WHERE e.content_id IN (SELECT id FROM check_damaged_contents)
       ORDER BY c.name, b.number, e.path`).all() as AffectedFile[];
    const byBackup = new Map<string, AffectedBackup>();
    for (const file of rows) {
      const key = `${file.clientName}\0${file.backupNumber}`;
      const previous = byBackup.get(key);
      byBackup.set(key, { clientName: file.clientName, backupNumber: file.backupNumber, damagedFiles: (previous?.damagedFiles ?? 0) + 1 });
    }
    return { files: rows, backups: [...byBackup.values()] };
  } finally {
    database.exec(`DROP TABLE IF EXISTS temp.check_damaged_chunks; DROP TABLE IF EXISTS temp.check_damaged_contents;`);
  }
}
