// Child program for a mariadb source's data.sql: runs the mariadb client (`<client> <args>`, the dump
// script on our stdin), passes its bytes on to stdout, which the parent made the FIFO, and exits 1
// when a row did not come out as a row (mariadb-dump-check.ts): the client exits 0 on those.
import { MariadbDumpCheck } from './mariadb-dump-check';
import { passDumpOn, runDumpChild } from '../dump-child';

const [client, ...args] = process.argv.slice(2);
runDumpChild('mariadb dump', () => passDumpOn(client, args, 'inherit', new MariadbDumpCheck(), true));
