// A load over existing tables turns their enabled triggers off while it changes their rows and back
// on, each as it was (ENABLE, REPLICA, ALWAYS), before the commit: pg_restore --disable-triggers.
import { quoteLiteral } from './pg-sql';

/** pg_trigger.tgtype's bit for a TRUNCATE trigger (TRIGGER_TYPE_TRUNCATE in PostgreSQL's trigger.h). */
const TRIGGER_TYPE_TRUNCATE = 32;
/** Dropped at the commit; pg_temp: found whatever search_path says. */
const DISABLED = 'pg_temp.cpsbackup_disabled_triggers';

/**
 * The triggers are listed before any is touched, so only those enabled now are enabled again. User
 * triggers fired on every loaded row: one returning NULL dropped rows, one changing NEW changed them, an
 * audit trigger added rows (and its sequence, set from the dump afterwards, fell below them). A
 * superuser's complete load also turns off the foreign keys' internal triggers, as pg_restore does, so
 * tables that reference each other load in any order; a partial load keeps them, so an upsert that
 * references a row no table holds still fails. ALTER TABLE needs the table's owner: anyone else is told so.
 * ONLY, each relation by itself: on a partitioned table ALTER TABLE ... ENABLE TRIGGER recurses to every
 * partition's clone of the trigger (PostgreSQL 15), so it turned on a clone the operator had disabled on
 * one partition; each clone that was enabled is in the list itself.
 */
export function disableTriggers(tables: readonly string[], isComplete: boolean): string {
  // pg_partition_tree lists no row for a table that is not partitioned: the table itself, then its partitions.
  const relations = tables.map((table) => `SELECT ${quoteLiteral(table)}::pg_catalog.regclass UNION ALL `
    + `SELECT relid FROM pg_catalog.pg_partition_tree(${quoteLiteral(table)}::pg_catalog.regclass)`).join(' UNION ALL ');
  // Its partitioned ancestors' TRUNCATE triggers only (the load truncates a parent all of whose leaves it loads,
  // and statement triggers are not cloned to partitions); their row triggers never fire on rows copied into a leaf.
  const ancestors = tables.map((table) => `SELECT relid FROM pg_catalog.pg_partition_ancestors(${quoteLiteral(table)}::pg_catalog.regclass)`)
    .join(' UNION ALL ');
  const internal = isComplete ? '(SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)' : 'false';
  // The relation schema-qualified whatever search_path says (regclass::text leaves out a schema on it).
  return 'CREATE TEMP TABLE cpsbackup_disabled_triggers ON COMMIT DROP AS SELECT pg_catalog.format(\'%I.%I\', n.nspname, c.relname) AS relation, '
    + 't.tgname AS name, t.tgenabled AS mode FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid '
    + 'JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace '
    + `WHERE t.tgenabled <> 'D' AND (NOT t.tgisinternal OR ${internal}) AND (t.tgrelid IN (${relations}) `
    + `OR t.tgrelid IN (${ancestors}) AND (t.tgtype & ${TRIGGER_TYPE_TRUNCATE}) <> 0) ORDER BY t.tgrelid, t.tgname;\n`
    + `DO $cpsbackup$ DECLARE r record; BEGIN FOR r IN SELECT * FROM ${DISABLED} LOOP
  BEGIN
    EXECUTE pg_catalog.format('ALTER TABLE ONLY %s DISABLE TRIGGER %I', r.relation, r.name);
  EXCEPTION WHEN insufficient_privilege THEN
    RAISE EXCEPTION 'table % has trigger %, which would fire on every loaded row; a load turns the triggers of the tables it loads off while it runs (ALTER TABLE ... DISABLE TRIGGER), which needs the table''s owner: load as its owner or a superuser',
      r.relation, r.name;
  END;
END LOOP; END $cpsbackup$;\n`;
}

/**
 * A trigger gone since is passed over: the load detached its table (a partition gone from the source:
 * pg-partition-sync.ts), which removes the clones of its parent's triggers and its foreign keys' triggers.
 */
export function enableTriggers(): string {
  return `DO $cpsbackup$ DECLARE r record; BEGIN FOR r IN SELECT * FROM ${DISABLED} d WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
    WHERE t.tgrelid = pg_catalog.to_regclass(d.relation) AND t.tgname = d.name) LOOP
  EXECUTE pg_catalog.format('ALTER TABLE ONLY %s ENABLE %s TRIGGER %I', r.relation,
    CASE r.mode WHEN 'R' THEN 'REPLICA' WHEN 'A' THEN 'ALWAYS' ELSE '' END, r.name);
END LOOP; END $cpsbackup$;\n`;
}
