// Child program for a sqlite source: runs `sqlite3 <args>` (a `.dump`), passes its bytes on to stdout,
// which the parent made the FIFO, and exits 1 when the dump recorded errors that sqlite3 exits 0 on.
import { SqliteDumpCheck } from './sqlite-dump-check';
import { passDumpOn, runDumpChild } from './dump-child';
import { parseRunAsArgument } from './sqlite-dump-user';

const { runAs, rest } = parseRunAsArgument(process.argv.slice(2));
runDumpChild('sqlite dump', () => passDumpOn('sqlite3', rest, 'ignore', new SqliteDumpCheck(), false, runAs));
