// The contract of MariadbDumpCheck (mariadb-dump-check.ts): whatever the chunk boundaries, a row line
// the server could not render (the dump script's marker line, or a bare NULL) is a problem naming the
// table, the row's number in its section and, from the header, the ENUM columns; header lines and
// rows of any length are not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MariadbDumpCheck, NOT_RENDERED_LINE } from '../src/client/sources/mariadb/mariadb-dump-check';

function check(text: string, chunkSize: number): string | undefined {
  const bytes = Buffer.from(text);
  const checker = new MariadbDumpCheck();
  for (let start = 0; start < bytes.length; start += chunkSize) checker.push(bytes.subarray(start, start + chunkSize));
  return checker.problem();
}

const header = '-- cpsbackup-data {"kind":"mariadb"}\n-- cpsbackup-table {"table":"moods","columns":["id","mood","maybe"]}\n';
const row = (id: number): string => `INSERT INTO \`moods\` (\`id\`,\`mood\`,\`maybe\`) VALUES (${id},'ok','${'x'.repeat(200_000)}');\n`;

test('rows of any length pass, in chunks of any size', () => {
  for (const size of [1, 7, 4096, 1 << 20]) assert.equal(check(`${header}${row(1)}${row(2)}-- cpsbackup-end {"tables":1}\n`, size), undefined);
});

test('a marker line names table, row, key and the reason; a bare NULL row too', () => {
  for (const size of [1, 5, 65536]) {
    assert.equal(check(`${header}${row(1)}${NOT_RENDERED_LINE} 16777216 (\`id\` = 2)\n`, size),
      "table moods: row 2 (`id` = 2) is larger than the server's max_allowed_packet (16777216 bytes) as an INSERT line "
      + '(binary counts twice, as hex): raise max_allowed_packet on the server (SET GLOBAL) or exclude the column');
    assert.match(check(`${header}${NOT_RENDERED_LINE} enum:1,2 (\`id\` = 7)\n`, size) ?? '',
      /^table moods: row 1 \(`id` = 7\) holds ENUM's error value '' \(index 0\) in `mood`, `maybe`, stored under a non-strict sql_mode/);
    assert.equal(check(`${header}${row(1)}${row(2)}NULL\n${row(4)}`, size), 'table moods: row 3 came out as NULL, not as a row');
  }
});
