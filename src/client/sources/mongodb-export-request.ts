// What the parent tells the native MongoDB exporter process: one collection, optionally since a time.
// Shared by dump-plans (writer) and mongodb-export-main (reader) so the two cannot drift apart.
export const MONGODB_EXPORT_ENV = 'CPSBACKUP_MONGODB_EXPORT';

export interface MongodbExportRequest {
  readonly uri: string;
  readonly database: string;
  readonly collection: string;
  readonly sinceField?: string;
  /** ISO-8601 UTC; documents with sinceField >= this date are exported. */
  readonly since?: string;
}
