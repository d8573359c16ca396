// Picks the PostgreSQL or MariaDB implementation of a database source's dumps and loads.
import type { DatabaseKind } from './database-config';
import { mariadbDialect } from './mariadb/mariadb-dialect';
import { postgresqlDialect } from './postgresql/postgresql-dialect';
import type { DatabaseDialect } from './tables/dialect';

export function dialectOf(kind: DatabaseKind): DatabaseDialect {
  return kind === 'postgresql' ? postgresqlDialect : mariadbDialect;
}
