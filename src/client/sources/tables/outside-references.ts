// Foreign keys from tables outside a dump into its tables, whose ON DELETE would silently change rows
// no backup holds when a complete load deletes the dumped tables' rows (MariaDB's DELETE, PostgreSQL's
// staged load over columns the dump left out; PostgreSQL's TRUNCATE refuses every such key by itself).

/** The refusal: a complete load deletes the dumped tables' rows, and these keys would carry the deletion where no backup covers it. */
export function outsideReferencesRefusal(database: string, references: readonly string[]): string {
  return `${database}: a complete load deletes the rows of the dumped tables, and tables outside the dump reference them: `
    + `${references.join(', ')}; their rows would be deleted or changed with no backup of them. Dump those tables too, `
    + 'load into an empty database (--load-into), or drop those foreign keys first';
}
