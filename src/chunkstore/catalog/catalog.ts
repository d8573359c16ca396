// The SQLite catalog of a chunk store: one connection, one module per table or concern, every
// statement prepared once. Only the store's own modules use it; the server never sees SQL.
import { CatalogDatabase } from './database';
import { MetaTable } from './meta-table';
import { ClientsTable } from './clients-table';
import { BackupsTable } from './backups-table';
import { EntriesTable } from './entries-table';
import { ContentsTable } from './contents-table';
import { ChunksTable } from './chunks-table';
import { PacksTable } from './packs-table';
import { HoldsTable } from './holds-table';
import { ClientChunksTable } from './client-chunks-table';
import { GarbageQueries } from './garbage-queries';
import { PageQueries } from './page-queries';
import { CheckQueries } from './check-queries';
import { RepairQueries } from './repair-queries';
import { UsageQueries } from './usage-queries';
import { RECORD_HEADER_SIZE } from '../pack/pack-format';
import type { Logger } from '../../common/logger';

export class Catalog {
  readonly meta: MetaTable;
  readonly clients: ClientsTable;
  readonly backups: BackupsTable;
  readonly entries: EntriesTable;
  readonly contents: ContentsTable;
  readonly chunks: ChunksTable;
  readonly packs: PacksTable;
  readonly holds: HoldsTable;
  readonly clientChunks: ClientChunksTable;
  readonly garbage: GarbageQueries;
  readonly pages: PageQueries;
  readonly checks: CheckQueries;
  readonly repairs: RepairQueries;
  readonly usage: UsageQueries;
  private readonly database: CatalogDatabase;

  /**
   * recordOverhead: bytes a record takes in its pack beyond its payload (RecordFraming.overhead); logger:
   * told of a schema upgrade; isReadOnly: beside the server that owns the store (CatalogDatabase).
   */
  constructor(readonly file: string, recordOverhead: number = RECORD_HEADER_SIZE, logger?: Logger, options: { isReadOnly?: boolean } = {}) {
    const isReadOnly = options.isReadOnly === true;
    this.database = new CatalogDatabase(file, logger, isReadOnly);
    try {
      this.meta = new MetaTable(this.database.connection);
      this.clients = new ClientsTable(this.database.connection);
      this.clientChunks = new ClientChunksTable(this.database.connection);
      this.backups = new BackupsTable(this.database, this.meta, this.clientChunks);
      this.entries = new EntriesTable(this.database);
      this.contents = new ContentsTable(this.database);
      this.chunks = new ChunksTable(this.database);
      this.packs = new PacksTable(this.database, recordOverhead);
      this.holds = new HoldsTable(this.database.connection);
      this.garbage = new GarbageQueries(this.database, this.clientChunks);
      this.pages = new PageQueries(this.database);
      this.checks = new CheckQueries(this.database, this.clientChunks);
      this.repairs = new RepairQueries(this.database, this.clientChunks);
      this.usage = new UsageQueries(this.database);
      // After the tables' TEMP tables: from now on nothing this connection runs can write.
      if (isReadOnly) this.database.connection.pragma('query_only = ON');
    } catch (error) {
      this.database.close();
      throw error;
    }
  }

  /** Runs fn in one transaction; with isDurable the commit is fsynced before returning. */
  transaction<T>(fn: () => T, isDurable = false): T {
    return this.database.transaction(fn, isDurable);
  }

  /**
   * A consistent copy of the whole catalog in file, taken by SQLite's online backup while the store
   * goes on (writes made meanwhile through this connection are carried into the copy).
   */
  async copyTo(file: string): Promise<void> {
    await this.database.connection.backup(file);
  }

  checkpointLog(): void {
    this.database.checkpointLog();
  }

  close(): void {
    this.database.close();
  }
}
