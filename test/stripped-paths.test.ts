// The --strip path table: every path claimed once answers with its first kind ever after, across growth,
// and paths that differ in one byte (or only in length) are told apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StrippedPaths } from '../src/client/stripped-paths';

test('a path claimed once is found with its first kind, across the table growing; others are new', () => {
  const paths = new StrippedPaths();
  const pathOf = (index: number): Buffer => Buffer.from(`/srv/data/${index % 97}/file-${index}`);
  for (let index = 0; index < 50_000; index++) assert.equal(paths.claim(pathOf(index), index % 3 === 0 ? 'folder' : 'other'), undefined);
  for (let index = 0; index < 50_000; index++) assert.equal(paths.claim(pathOf(index), 'other'), index % 3 === 0 ? 'folder' : 'other');
  assert.equal(paths.claim(Buffer.from('/srv/data/0/file-0\0'), 'other'), undefined);
  assert.equal(paths.claim(Buffer.from([0x2f, 0xff]), 'other'), undefined);
  assert.equal(paths.claim(Buffer.from([0x2f, 0xfe]), 'other'), undefined);
  assert.equal(paths.claim(Buffer.from([0x2f, 0xff]), 'folder'), 'other');
});
