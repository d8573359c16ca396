// What a load says when row-level security applies to its role on target tables: the load runs with
// row_security = off (pg-load-script.ts), so PostgreSQL would fail it with a bare error and no advice.
import { quoteIdentifier } from './pg-sql';

/** A target table whose row-level security applies to the loading role. */
export interface RowFilteredTable {
  readonly name: string;
  /** The role owns the table (or is a member of its owner): only FORCE ROW LEVEL SECURITY makes policies apply. */
  readonly isOwnedByRole: boolean;
}

/** The refusal, naming the tables and the role, and for each kind of table what to change. */
export function loadRowSecurityRefusal(database: string, role: string, tables: readonly RowFilteredTable[]): string {
  const listed = (names: readonly string[]): string => `${names.length === 1 ? 'table' : 'tables'} ${names.join(', ')}`;
  const owned = tables.filter((table) => table.isOwnedByRole).map((table) => table.name);
  const others = tables.filter((table) => !table.isOwnedByRole).map((table) => table.name);
  const advice = [
    ...(others.length === 0 ? [] : [`${listed(others)}: load as the table's owner (without FORCE ROW LEVEL SECURITY), a superuser or a role `
      + `with BYPASSRLS (ALTER ROLE ${quoteIdentifier(role)} BYPASSRLS)`]),
    ...(owned.length === 0 ? [] : [`${listed(owned)}, which ${role} owns: remove FORCE ROW LEVEL SECURITY (ALTER TABLE ... NO FORCE ROW `
      + `LEVEL SECURITY) or load as a superuser or a role with BYPASSRLS`]),
  ];
  return `${database} has row-level security that applies to role ${role} on ${listed(tables.map((table) => table.name))}: a load `
    + 'would see and delete only the rows a policy shows it (it runs with row_security = off, so PostgreSQL would fail it); not loaded. '
    + `For ${advice.join('; for ')}`;
}
