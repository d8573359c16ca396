// Which servers a MariaDB source's dump can be loaded from: triggers and routines are re-created by EXECUTE
// IMMEDIATE (MariaDB 10.2+), routines read from mysql.proc with its `aggregate` column (MariaDB 10.3+).

/** VERSION() of a MariaDB 10.2 or newer reads `10.2.44-MariaDB…`; MySQL's has no "MariaDB" in it. */
const MARIADB_VERSION = /^(\d+)\.(\d+)\.\d+-.*MariaDB/;

export const SERVER_VERSION_QUERY = 'SELECT VERSION();\n';

/**
 * Why a server of this VERSION() cannot give a dump its load re-creates (`minimum`: [major, minor]), naming what it
 * lacks, or undefined. MySQL has neither EXECUTE IMMEDIATE nor mysql.proc (8.0): refused, not left to fail at the load.
 */
export function serverVersionProblem(version: string, minimum: readonly [number, number], needs: string): string | undefined {
  const match = MARIADB_VERSION.exec(version.trim());
  const isNewEnough = match !== null && (Number(match[1]) > minimum[0] || (Number(match[1]) === minimum[0] && Number(match[2]) >= minimum[1]));
  return isNewEnough ? undefined : `the server is ${version.trim() || 'of an unknown version'}, not MariaDB ${minimum.join('.')} or newer, which ${needs}`;
}
