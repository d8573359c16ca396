// The foreign keys of a MariaDB load, checked once its rows are in: the rows load with
// foreign_key_checks off (as mysqldump's do), so this is what still refuses a row that references none.
import { quoteLiteral } from './mariadb-sql';

/** A client DELIMITER no generated text holds (the block has `;` inside); the client keeps 15 characters of one. */
const BLOCK_END = '$cps_refs$';

/** `name` as a backquoted identifier, built by the server from a catalog value. */
const identifier = (name: string): string => `CONCAT('\`', REPLACE(${name}, '\`', '\`\`'), '\`')`;

/**
 * Rows referencing later rows of their own table (a tree whose parent got a larger id) or a cycle of two
 * tables load in no order with the checks on (ERROR 1452), and emptying such tables fails the same way
 * (ERROR 1451). With the checks off nothing is checked, so afterwards every foreign key that has a loaded
 * table on either side (children in tables the load left alone included: a partial load may have deleted
 * what they reference) is looked at: one row whose key (every column not NULL, MATCH SIMPLE as InnoDB)
 * has no parent fails the load, before its COMMIT, naming the table, the constraint and that key.
 * An anti-join per foreign key on the parent's index: the load's own transaction sees its own rows.
 * MariaDB 10.2+ (BEGIN NOT ATOMIC, EXECUTE IMMEDIATE); the load needs MariaDB's client already (--sandbox).
 */
export function orphanReferencesCheck(tables: readonly string[]): string {
  if (tables.length === 0) return '';
  const names = tables.map(quoteLiteral).join(', ');
  const column = identifier('k.COLUMN_NAME');
  return `DELIMITER ${BLOCK_END}
BEGIN NOT ATOMIC
  DECLARE message TEXT;
  FOR reference IN (
    SELECT k.TABLE_SCHEMA AS child_schema, k.TABLE_NAME AS child, k.CONSTRAINT_NAME AS name, k.REFERENCED_TABLE_NAME AS parent,
      CONCAT(${identifier('k.TABLE_SCHEMA')}, '.', ${identifier('k.TABLE_NAME')}) AS child_table,
      CONCAT(${identifier('k.REFERENCED_TABLE_SCHEMA')}, '.', ${identifier('k.REFERENCED_TABLE_NAME')}) AS parent_table,
      GROUP_CONCAT(CONCAT('c.', ${column}, ' IS NOT NULL') ORDER BY k.ORDINAL_POSITION SEPARATOR ' AND ') AS is_set,
      GROUP_CONCAT(CONCAT('p.', ${identifier('k.REFERENCED_COLUMN_NAME')}, ' = c.', ${column}) ORDER BY k.ORDINAL_POSITION SEPARATOR ' AND ') AS matches,
      GROUP_CONCAT(CONCAT(QUOTE(CONCAT(k.COLUMN_NAME, ' = ')), ', c.', ${column}) ORDER BY k.ORDINAL_POSITION SEPARATOR ', '', '', ') AS shown
    FROM information_schema.KEY_COLUMN_USAGE AS k
    WHERE k.REFERENCED_TABLE_NAME IS NOT NULL
      AND ((k.REFERENCED_TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IN (${names}))
        OR (k.TABLE_SCHEMA = DATABASE() AND k.TABLE_NAME IN (${names})))
    GROUP BY k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME
    ORDER BY k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME
  ) DO
    SET @cpsbackup_orphan = NULL;
    EXECUTE IMMEDIATE CONCAT('SELECT CONCAT(', reference.shown, ') INTO @cpsbackup_orphan FROM ', reference.child_table, ' AS c WHERE ',
      reference.is_set, ' AND NOT EXISTS (SELECT 1 FROM ', reference.parent_table, ' AS p WHERE ', reference.matches, ') LIMIT 1');
    IF @cpsbackup_orphan IS NOT NULL THEN
      SET message = CONCAT('cpsbackup: not loaded: table ', reference.child_schema, '.', reference.child, ' has a row (', @cpsbackup_orphan,
        ') whose foreign key ', reference.name, ' references no row of ', reference.parent, '; the load is rolled back');
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = message;
    END IF;
  END FOR;
END${BLOCK_END}
DELIMITER ;
`;
}
