// Clients by name: a row appears with a client's first backup and stays (numbers are never reused).
import type { Connection } from './database';

export class ClientsTable {
  private readonly byName;
  private readonly insert;
  private readonly names;

  constructor(connection: Connection) {
    this.byName = connection.prepare(`SELECT id FROM clients WHERE name = ?`).pluck();
    this.insert = connection.prepare(`INSERT INTO clients (name) VALUES (?)`);
    this.names = connection.prepare(`SELECT name FROM clients ORDER BY name`).pluck();
  }

  /** The client's id, created on first use. */
  idOf(name: string): number {
    const existing = this.byName.get(name) as number | undefined;
    if (existing !== undefined) return existing;
    return Number(this.insert.run(name).lastInsertRowid);
  }

  find(name: string): number | undefined {
    return this.byName.get(name) as number | undefined;
  }

  /** Every client that ever started a backup, including ones whose record was removed since. */
  allNames(): string[] {
    return this.names.all() as string[];
  }
}
