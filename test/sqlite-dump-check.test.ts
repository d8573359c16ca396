// Regression: `sqlite3 .dump` writes its errors into the dump text and exits 0, so a locked or corrupt
// database was stored as a good backup. Proves the check that now fails such a dump, fed in every split.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteDumpCheck } from '../src/client/sources/sqlite-dump-check';

/** What sqlite3 3.40 wrote for a database held by BEGIN EXCLUSIVE past its busy timeout. */
const LOCKED = 'PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n/**** ERROR: (5) database is locked *****/\nROLLBACK; -- due to errors\n';
const GOOD = "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCREATE TABLE t(a /* a comment */,\n/* on a line of its own */ b);\n"
  + "INSERT INTO t VALUES('/**** ERROR: in a value',1);\nCOMMIT;\n";

function problemOf(text: string, split?: number[]): string | undefined {
  const check = new SqliteDumpCheck();
  const bytes = Buffer.from(text);
  let start = 0;
  for (const end of [...(split ?? []), bytes.length]) {
    check.push(bytes.subarray(start, end));
    start = end;
  }
  return check.problem();
}

/** The same verdict for every place a chunk boundary can fall, and for byte-by-byte chunks. */
function verdictsOf(text: string): Set<string | undefined> {
  const length = Buffer.byteLength(text);
  const verdicts = new Set<string | undefined>([problemOf(text), problemOf(text, Array.from({ length }, (_, index) => index))]);
  for (let cut = 0; cut <= length; cut++) verdicts.add(problemOf(text, [cut]));
  return verdicts;
}

test('a whole dump passes, whatever its comments and values look like', () => {
  assert.deepEqual([...verdictsOf(GOOD)], [undefined]);
  assert.equal(problemOf('PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCOMMIT;'), undefined, 'an empty database, no final newline');
});

test('an error written into the dump fails it, quoting the error', () => {
  const verdicts = verdictsOf(LOCKED);
  assert.equal(verdicts.size, 1);
  assert.match([...verdicts][0] ?? '', /wrote an error into the dump: \/\*\*\*\* ERROR: \(5\) database is locked \*\*\*\*\*\/$/);
  assert.match(problemOf('BEGIN TRANSACTION;\n/**** ERROR: (26) file is not a database *****/\nROLLBACK; -- due to errors\n') ?? '', /file is not a database/);
});

test('a corruption marker fails the dump even when it still ends in COMMIT', () => {
  // Some sqlite3 versions do not count a corrupt page met while reading rows as an error.
  const text = 'BEGIN TRANSACTION;\nINSERT INTO t VALUES(1);\n/****** CORRUPTION ERROR *******/\n/****** database disk image is malformed ******/\n'
    + 'INSERT INTO t VALUES(3);\nCOMMIT;\n';
  const verdicts = verdictsOf(text);
  assert.equal(verdicts.size, 1);
  assert.match([...verdicts][0] ?? '', /CORRUPTION ERROR/);
  assert.match(problemOf('BEGIN TRANSACTION;\n/****** ERROR: database disk image is malformed ******/\nCOMMIT;\n') ?? '', /malformed/);
});

test('a dump that does not end in COMMIT fails: rolled back, cut short or empty', () => {
  assert.match(problemOf('BEGIN TRANSACTION;\nINSERT INTO t VALUES(1);\nROLLBACK; -- due to errors\n') ?? '', /ended with "ROLLBACK; -- due to errors"/);
  assert.match(problemOf('BEGIN TRANSACTION;\nINSERT INTO t VALUES(1);\nINSERT INTO t VA') ?? '', /not "COMMIT;"/);
  assert.match(problemOf('') ?? '', /wrote nothing/);
  assert.match(problemOf('BEGIN TRANSACTION;\nINSERT INTO t VALUES(\'x COMMIT;\');\n') ?? '', /not "COMMIT;"/);
});

test('a line of hundreds of megabytes is checked in bounded memory', () => {
  const check = new SqliteDumpCheck();
  check.push(Buffer.from('BEGIN TRANSACTION;\n/'));
  const block = Buffer.alloc(1024 * 1024, 'x');
  const before = process.memoryUsage().arrayBuffers;
  for (let index = 0; index < 256; index++) check.push(block);
  assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024, 'nothing of the long line is kept beyond a few bytes');
  check.push(Buffer.from('\nCOMMIT;\n'));
  assert.equal(check.problem(), undefined);
});
