// Child program for a sqlite source: runs `sqlite3 <args>` (a `.dump`), passes its bytes on to stdout,
// which the parent made the FIFO, and exits 1 when the dump recorded errors that sqlite3 exits 0 on.
import { SqliteDumpCheck } from './sqlite-dump-check';
import { passDumpOn, runDumpChild } from './dump-child';

runDumpChild('sqlite dump', () => passDumpOn('sqlite3', process.argv.slice(2), 'ignore', new SqliteDumpCheck(), false));
