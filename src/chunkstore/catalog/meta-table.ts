// Store-wide settings kept in the catalog: the chunker a store was made with, counters.
import type { Connection } from './database';

export class MetaTable {
  private readonly getStatement;
  private readonly setStatement;

  constructor(connection: Connection) {
    this.getStatement = connection.prepare(`SELECT value FROM meta WHERE key = ?`).pluck();
    this.setStatement = connection.prepare(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`);
  }

  get(key: string): string | undefined {
    return this.getStatement.get(key) as string | undefined;
  }

  set(key: string, value: string): void {
    this.setStatement.run(key, value);
  }
}
