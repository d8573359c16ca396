// The contract of the MariaDB row lexer: every value the dump script has the server render is a value,
// and anything that could end the INSERT, add a clause or compute something is not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rowTupleProblem } from '../src/client/sources/mariadb/mariadb-row-tuple';

const problem = (tuple: string, columns: number): string | undefined => {
  const bytes = Buffer.from(`${tuple};`, 'utf8');
  return rowTupleProblem(bytes, 0, bytes.length - 1, columns);
};

test('values as the dump writes them pass', () => {
  const rows: Array<[string, number]> = [["(1,'a\\'b\\\\c\\0d\\Ze\\nf\\rg')", 2], ['(NULL,-12,3.25,1.5e-300,1e300,-0,18446744073709551615)', 7],
    ["(X'',X'00FF5C27')", 2], ["('é€ 🙂\ttab','')", 2], ["('{\"k\": [1, 2.5, null]}','a,c')", 2],
    ["(_sjis X'5C',_utf16 X'00E9D83DDE42')", 2], ["(_latin1 X'',_cp1250 X'8A9A')", 2]];
  for (const [tuple, columns] of rows) assert.equal(problem(tuple, columns), undefined, tuple);
});

test('anything else is refused', () => {
  for (const tuple of ["(1,'one'); DROP DATABASE x; SELECT (1,'x')", "(1,'one'),(2,'two')", "(1,'a' 'b')", "(1,'a''b')", '(1,0x41)',
    "(1,X'ABC')", "(1,x'AB')", '(1,CONCAT(1))', '(1,(SELECT 1))', "(1,'a'/**/)", "(1,'\\x')", "(1,'open)", '(1,1e)', '(1,.5)', '(1,+1)',
    '(1,NULLIF(1,1))', '(1,)', '()', "(1,'a')-- x",
    "(1,_sjis 'a')", "(1,_ X'00')", "(1,_sjis  X'00')", "(1,_sjis X'ABC')", "(1,_sjis)", "(1,_SJIS X'00')", "(1,_sjis X'00' COLLATE x)"]) {
    assert.notEqual(problem(tuple, 2), undefined, tuple);
  }
  assert.match(problem('(1,2,3)', 2) ?? '', /3 values for 2 columns/);
});
