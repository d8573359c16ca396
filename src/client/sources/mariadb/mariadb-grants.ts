// Whether the dump's user may read every table of a database, from its own SHOW GRANTS: MariaDB's
// information_schema lists only the tables a user holds some privilege on, so without that read a
// source without `tables =` would leave the other tables out unseen.
//
// Why SHOW GRANTS and not information_schema.SCHEMA_PRIVILEGES / USER_PRIVILEGES: those show a user
// only the rows granted to the user itself, never its roles' (a default role's SELECT ON db.* is
// invisible there), while SHOW GRANTS prints the user's grants, those of its current role and of the
// roles that role holds, and PUBLIC's: every source of what the session may do. The session that
// asks is one the dump's own client opens with the same options, so it has the dump's roles.

/**
 * The first answer line is the user and its current role, in hex (--raw prints a name as stored: a tab in it
 * split the line, and a role named NULL read as none; found by review), a tab between, NULL for no role; the
 * rest are its grant statements, one a line. CURRENT_ROLE() is MariaDB's (10.0.5): in a comment only MariaDB
 * runs, so MySQL answers the user alone.
 */
export const GRANTS_QUERY = 'SELECT HEX(CURRENT_USER()) /*M!100005 , HEX(CURRENT_ROLE()) */;\nSHOW GRANTS;\n';

export interface UserGrants {
  /** user@host, as CURRENT_USER() names the account. */
  readonly user: string;
  /** The session's role, quoted as SHOW GRANTS quotes it; undefined for none (or not asked). */
  readonly currentRole?: string;
  readonly statements: readonly string[];
}

export function parseGrants(answer: string): UserGrants {
  const [first = '', ...statements] = answer.split('\n').filter((line) => line.trim() !== '');
  const [userHex = '', roleHex] = first.split('\t');
  const user = Buffer.from(userHex, 'hex').toString('utf8');
  if (roleHex === undefined || roleHex === 'NULL') return { user, statements };
  const role = Buffer.from(roleHex, 'hex').toString('utf8');
  return { user, currentRole: `\`${role.replaceAll('`', '``')}\``, statements };
}

/**
 * `GRANT privileges ON *.* | db.* TO grantee`: a global or database-level grant (column lists belong to
 * table-level grants, which never cover a table added later). Privilege names are capitals, spaces and
 * underscores (DELETE HISTORY, READ_ONLY ADMIN: letters alone made a global SELECT beside READ_ONLY ADMIN
 * unreadable), and nothing else: anything wider runs into a quoted table name of a table-level grant
 * (a table named "a, SELECT ON *.* TO x" read as a global SELECT; both found by review).
 */
const DATABASE_WIDE_GRANT = /^GRANT ([A-Z_ ]+(?:, [A-Z_ ]+)*) ON (\*|`(?:[^`]|``)+`|[^\s.`]+)\.\* TO (.+?)(?: IDENTIFIED .*| WITH .*)?$/;

/** Database names in grants are LIKE patterns: `_` and `%` are wildcards unless escaped with a backslash. */
function grantPatternMatches(pattern: string, database: string): boolean {
  const name = pattern.startsWith('`') ? pattern.slice(1, -1).replaceAll('``', '`') : pattern;
  const characters = Array.from(name);
  let expression = '';
  for (let index = 0; index < characters.length; index += 1) {
    const character = characters[index];
    if (character === '\\' && index + 1 < characters.length) expression += escapeForRegExp(characters[(index += 1)]);
    else if (character === '%') expression += '.*';
    else if (character === '_') expression += '.';
    else expression += escapeForRegExp(character);
  }
  return new RegExp(`^${expression}$`, 'su').test(database);
}

/** A pattern without an unescaped wildcard names one database: MariaDB applies it before any wildcard one. */
function isExactPattern(pattern: string): boolean {
  return !/(?:^|[^\\])(?:\\\\)*[%_]/.test(pattern);
}

function escapeForRegExp(character: string): string {
  return character.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

/**
 * True when SELECT (or `privilege`: TRIGGER, without which information_schema hides a table's triggers)
 * on every table of `database` is certain: a global SELECT (or ALL PRIVILEGES) of
 * the user, a role or PUBLIC, or one on the database itself. For one grantee MariaDB applies only
 * the first database-level grant that matches, not their union: a grant naming the database exactly
 * comes first, so where a grantee has one it alone decides (a SELECT on `crm`.* beside a SHOW VIEW on
 * '%'.* reads every table); among wildcard grants the order is not worked out here, so they must all
 * hold SELECT. A REVOKE line (MySQL's partial revokes) takes rights away in ways not worked out here,
 * so it is never taken as proof.
 */
export function readsEveryTable(grants: UserGrants, database: string, privilege = 'SELECT'): boolean {
  // A line that is no GRANT (a REVOKE: MySQL's partial revokes), or one whose quotes do not close (a name whose
  // newline cut a line in two: the piece after it may even read as a global grant; found by review), is read no
  // further: it proves nothing, and what it hides may take rights away.
  if (grants.statements.some((statement) => !WHOLE_GRANT_LINE.test(statement))) return false;
  const exactReading = new Map<string, boolean>();
  const wildcardReading = new Map<string, boolean>();
  const holdersOf = privilegeHoldersOf(grants.statements, grants.currentRole);
  for (const statement of grants.statements) {
    const match = DATABASE_WIDE_GRANT.exec(statement);
    if (match === null) continue;
    const [, privilegeList, target, grantee] = match;
    const privileges = privilegeList.split(', ');
    const isReading = includesPrivilege(privileges, privilege);
    if (target === '*') {
      if (isReading) return true;
    } else if (grantPatternMatches(target, database)) {
      const reading = isExactPattern(target) ? exactReading : wildcardReading;
      for (const holder of holdersOf(grantee)) reading.set(holder, (reading.get(holder) ?? true) && isReading);
    }
  }
  const grantees = new Set([...exactReading.keys(), ...wildcardReading.keys()]);
  return [...grantees].some((grantee) => exactReading.get(grantee) ?? wildcardReading.get(grantee) ?? false);
}

/**
 * A GRANT line whose `names` and 'strings' all close. Each token starts with its own character, so a line
 * that fails costs linear time: the first form (`` inside a name as two tokens or one escaped quote) backtracked
 * exponentially, 16.8 s on a 63-character line of doubled backticks (found by review).
 */
const WHOLE_GRANT_LINE = /^(?:GRANT|SET DEFAULT ROLE) (?:[^`']|`[^`]*`|'(?:[^'\\]|\\.)*')*$/;

/** `user`@`host` (a role's name may hold an "@" too, but only inside its quotes). */
const USER_GRANTEE = /^(?:`(?:[^`]|``)*`|'[^']*'|[^`'@\s]+)@(?:`(?:[^`]|``)*`|'[^']*'|\S+)$/;
/** `GRANT role TO grantee`: a role given to the user, to another role or to PUBLIC (no " ON ": no privilege). */
const ROLE_GRANT = /^GRANT (`(?:[^`]|``)+`|[^\s`]+) TO (.+?)(?: WITH ADMIN OPTION)?$/;

/**
 * Whose database grants MariaDB merges before applying the first that matches, for a grantee of a SHOW
 * GRANTS line: the user's own; PUBLIC's, with every role PUBLIC holds, directly or through other roles; and the
 * user's roles', merged into one (judged apart, an exact EVENT grant of one role beside another's wildcard
 * SELECT read as a SELECT the server then denied). A role both reach counts for both. The three are unioned.
 * Found by reviews on a real MariaDB 10.11, as was a role named with an "@" taken for a user.
 */
function privilegeHoldersOf(statements: readonly string[], currentRole: string | undefined): (grantee: string) => readonly string[] {
  const heldBy = new Map<string, string[]>();
  for (const statement of statements) {
    // One token before " TO ": a privilege grant ("SELECT ON …") never matches, a role named "x ON y" in quotes does.
    const match = ROLE_GRANT.exec(statement);
    if (match !== null) heldBy.set(match[2], [...(heldBy.get(match[2]) ?? []), match[1]]);
  }
  const reachedFrom = (starts: readonly string[]): Set<string> => {
    const reached = new Set<string>();
    for (const waiting = [...starts]; waiting.length > 0;) {
      for (const role of heldBy.get(waiting.pop()!) ?? []) {
        if (!reached.has(role)) {
          reached.add(role);
          waiting.push(role);
        }
      }
    }
    return reached;
  };
  const publicRoles = reachedFrom(['PUBLIC']);
  // The session's role and those it holds: a role the user holds but has not set is no right of the session
  // (SHOW GRANTS lists its grants only when PUBLIC holds it too, and then they are PUBLIC's; found by review).
  const userRoles = currentRole === undefined ? new Set<string>() : new Set([currentRole, ...reachedFrom([currentRole])]);
  return (grantee) => {
    if (grantee === 'PUBLIC' || USER_GRANTEE.test(grantee)) return [grantee];
    const holders = [...(userRoles.has(grantee) ? ['roles'] : []), ...(publicRoles.has(grantee) ? ['PUBLIC'] : [])];
    // A role SHOW GRANTS lists without saying who holds it: the session's current role.
    return holders.length > 0 ? holders : ['roles'];
  };
}

/** user@host as a GRANT statement takes it: 'user'@'host' (backup@% unquoted is no SQL). */
function quotedAccount(account: string): string {
  const at = account.lastIndexOf('@');
  const quote = (part: string): string => `'${part.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
  return at < 0 ? quote(account) : `${quote(account.slice(0, at))}@${quote(account.slice(at + 1))}`;
}

export function unreadableTablesRefusal(grants: UserGrants, database: string): string {
  return `user ${grants.user} may not read every table of database ${database}, so a table it cannot see would be left out `
    + `of the backup unseen: grant SELECT ON \`${database.replaceAll('`', '``')}\`.* TO ${quotedAccount(grants.user)}, or list the tables to dump with tables =`;
}

/** The dumping user may not see every trigger: mariadb-dump left them out with exit 0, so would information_schema (found by review). */
export function unseenTriggersRefusal(grants: UserGrants, database: string): string {
  return `user ${grants.user} holds no TRIGGER privilege on every table of database ${database}, and information_schema hides the triggers `
    + `of the tables it lacks it on, so they would be left out of the backup unseen: grant TRIGGER ON \`${database.replaceAll('`', '``')}\`.* `
    + `TO ${quotedAccount(grants.user)}`;
}

/**
 * The dumping user may not read every routine or event of a whole database: MariaDB 10.11 shows another's routine
 * (parameters, body) only to a reader of mysql.proc, and the events of a database only to a holder of EVENT on it,
 * with no error: they would be left out of the backup unseen. `missing`: what to grant, as GRANT's words.
 */
export function unseenRoutinesRefusal(grants: UserGrants, database: string,
  missing: { readonly mysqlTables: readonly string[]; readonly event: boolean }): string {
  const grantsNeeded = [
    ...missing.mysqlTables.map((table) => `SELECT ON mysql.${table}`),
    ...(missing.event ? [`EVENT ON \`${database.replaceAll('`', '``')}\`.*`] : []),
  ].map((grant) => `grant ${grant} TO ${quotedAccount(grants.user)}`);
  const what = [...(missing.mysqlTables.includes('proc') ? ['the stored procedures and functions it did not define'] : []),
    ...(missing.event || missing.mysqlTables.includes('event') ? ['the events'] : [])].join(' or ');
  return `user ${grants.user} may not read ${what} of database ${database}, so they would be left out of the backup unseen: `
    + `${grantsNeeded.join(', and ')}; or list the tables to dump with tables = (a backup of some tables holds no routines or events)`;
}

/** `GRANT privileges ON db.table TO grantee`: privileges without column lists (a column grant is no TRIGGER). */
const TABLE_GRANT = /^GRANT ([A-Z_ ]+(?:, [A-Z_ ]+)*) ON (`(?:[^`]|``)+`|[^\s.`]+)\.(`(?:[^`]|``)+`|[^\s.`*]+) TO /;

const unquoted = (name: string): string => (name.startsWith('`') ? name.slice(1, -1).replaceAll('``', '`') : name);

/**
 * The tables of `tables` the session may not hold `privilege` on, from its SHOW GRANTS: a global or database-wide
 * grant (readsEveryTable) covers them all, else a table-level one each. Table privileges of the user, its role and
 * PUBLIC add up, and SHOW GRANTS lists those the session holds.
 */
export function tablesWithout(grants: UserGrants, database: string, tables: readonly string[], privilege: string): string[] {
  if (readsEveryTable(grants, database, privilege)) return [];
  if (grants.statements.some((statement) => !WHOLE_GRANT_LINE.test(statement))) return [...tables];
  const held = new Set<string>();
  for (const statement of grants.statements) {
    const match = TABLE_GRANT.exec(statement);
    if (match === null || unquoted(match[2]) !== database) continue;
    const privileges = match[1].split(', ');
    if (includesPrivilege(privileges, privilege)) held.add(unquoted(match[3]));
  }
  return tables.filter((table) => !held.has(table));
}

/** Whether a grant's privilege list gives `privilege`, by name or as ALL [PRIVILEGES]. */
function includesPrivilege(privileges: readonly string[], privilege: string): boolean {
  return privileges.includes(privilege) || privileges.includes('ALL PRIVILEGES') || privileges.includes('ALL');
}
