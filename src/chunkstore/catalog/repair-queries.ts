// check --repair: files whose content can no longer be read (a damaged chunk no backup could heal)
// are taken out of their backups, which are marked incomplete by as many files; what is gone is
// returned so the operator is told exactly which files of which backups were lost.
import type { CatalogDatabase } from './database';
import type { ClientChunksTable } from './client-chunks-table';
import { hasDamageFor } from './contents-table';
import { ENTRY_METADATA_BYTES_SQL } from './schema';

export interface RemovedFile {
  readonly clientName: string;
  readonly backupNumber: number;
  readonly path: Buffer;
}

export class RepairQueries {
  private readonly statements;

  constructor(private readonly database: CatalogDatabase, private readonly clientChunks: ClientChunksTable) {
    const db = database.connection;
    this.statements = {
      lostFiles: db.prepare(
        `SELECT e.backup_id AS backupId, b.client_id AS clientId, b.state, c.name AS clientName, b.number AS backupNumber, e.path, e.content_id AS contentId
         FROM entries e JOIN backups b ON b.id = e.backup_id JOIN clients c ON c.id = b.client_id
         WHERE (e.content_id IN (SELECT DISTINCT cc.content_id FROM chunks ch JOIN content_chunks cc ON cc.chunk_id = ch.id WHERE ch.is_damaged = 1)
                AND ${hasDamageFor('e.content_id', 'b.client_id')})
           -- A content whose chunk list is broken: no backup heals a list (a file read again is a new content).
           OR e.content_id IN (SELECT content_id FROM damaged_contents)
           -- A content whose row is gone (red team F5): nothing says what the file held.
           OR (e.content_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM contents gone WHERE gone.id = e.content_id))
         ORDER BY c.name, b.number, e.path`),
      // Its metadata leaves its backup's share of the client's usage with it (backups.metadata_bytes).
      deleteEntry: db.prepare(`DELETE FROM entries WHERE backup_id = ? AND path = ? RETURNING ${ENTRY_METADATA_BYTES_SQL}`).pluck(),
      lowerMetadata: db.prepare(`UPDATE backups SET metadata_bytes = MAX(metadata_bytes - ?, 0) WHERE id = ? AND state = 'committed'`),
      releaseContent: db.prepare(`UPDATE contents SET refs = refs - 1 WHERE id = ?`),
      markIncomplete: db.prepare(`UPDATE backups SET unreadable_files = unreadable_files + 1, files = files - 1 WHERE id = ?`),
      // Chunk lists whose content row is gone: each row counted a reference on its chunk (ContentsTable.insertRows).
      orphanListCount: db.prepare(`SELECT COUNT(DISTINCT content_id) FROM content_chunks WHERE content_id NOT IN (SELECT id FROM contents)`).pluck(),
      releaseOrphanChunks: db.prepare(
        `UPDATE chunks SET refs = refs - (SELECT COUNT(*) FROM content_chunks cc WHERE cc.chunk_id = chunks.id AND cc.content_id NOT IN (SELECT id FROM contents))
         WHERE id IN (SELECT chunk_id FROM content_chunks WHERE content_id NOT IN (SELECT id FROM contents))`),
      deleteOrphanLists: db.prepare(`DELETE FROM content_chunks WHERE content_id NOT IN (SELECT id FROM contents)`),
    };
  }

  /**
   * Removes the chunk lists whose content row is gone (after removeLostFiles took out the files naming it), releasing
   * the references they counted on their chunks (garbage collection takes what nothing else uses). Left, a new
   * content given the freed id collided with them and every backup storing a new file failed (red team F5).
   * Returns how many contents' lists were removed.
   */
  removeOrphanChunkLists(): number {
    return this.database.transaction(() => {
      const lists = this.statements.orphanListCount.get() as number;
      if (lists === 0) return 0;
      this.statements.releaseOrphanChunks.run();
      this.statements.deleteOrphanLists.run();
      return lists;
    }, true);
  }

  /**
   * Removes every entry whose content holds a damaged chunk its client has no own copy of (a file its
   * restores read from its own copy is whole), in one transaction; returns them.
   */
  removeLostFiles(): RemovedFile[] {
    return this.database.transaction(() => {
      const rows = this.statements.lostFiles.all() as
        { backupId: number; clientId: number; state: string; clientName: string; backupNumber: number; path: Buffer; contentId: number }[];
      for (const row of rows) {
        this.clientChunks.releaseEntry(row.clientId, row.contentId, row.state === 'committed');
        const metadataBytes = this.statements.deleteEntry.get(row.backupId, row.path) as number | undefined;
        if (metadataBytes !== undefined) this.statements.lowerMetadata.run(metadataBytes, row.backupId);
        // Only committed backups counted their references (a running one is its session's).
        if (row.state === 'committed') this.statements.releaseContent.run(row.contentId);
        this.statements.markIncomplete.run(row.backupId);
      }
      for (const clientId of new Set(rows.map((row) => row.clientId))) this.clientChunks.forgetUnreferenced(clientId);
      return rows.map(({ clientName, backupNumber, path }) => ({ clientName, backupNumber, path }));
    }, true);
  }
}
