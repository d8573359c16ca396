// The walk's record of what exclude_regex left out, by which a moved folder proves its old name only
// when the same rules leave the same names out there: what came after a folder's mark (its
// descendants' included), and nothing (so no proof) once more were left out than it keeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ExcludedRange, ExcludedPaths } from '../src/client/excluded-paths';

function pathsIn(excluded: ExcludedPaths, range: ExcludedRange | undefined): string[] | undefined {
  if (range === undefined) return undefined;
  const paths: string[] = [];
  for (let position = range.start; position < range.end; position++) paths.push(excluded.at(position).toString());
  return paths;
}

test('the paths left out since a mark: nested marks see their own and what came after, bytes as they were', () => {
  const excluded = new ExcludedPaths();
  excluded.note(Buffer.from('/r/x/node_modules'));
  const outer = excluded.mark();
  excluded.note(Buffer.from('/r/a/node_modules'));
  const inner = excluded.mark();
  assert.deepEqual(pathsIn(excluded, excluded.since(inner)), []);
  excluded.note(Buffer.from('/r/a/b/node_modules'));
  assert.deepEqual(pathsIn(excluded, excluded.since(inner)), ['/r/a/b/node_modules']);
  assert.deepEqual(pathsIn(excluded, excluded.since(outer)), ['/r/a/node_modules', '/r/a/b/node_modules']);
  // Any byte but '/' and NUL may be in a name: kept as it was.
  const odd = Buffer.from([0x2f, 0x72, 0x2f, 0xff, 0xe2, 0x82, 0x0a]);
  const mark = excluded.mark();
  excluded.note(odd);
  assert.deepEqual(excluded.at(excluded.since(mark)!.start), odd);
});

test('past the paths it keeps for the whole backup, a mark learns that some were not kept: undefined, never a partial list', () => {
  const excluded = new ExcludedPaths();
  const mark = excluded.mark();
  for (let index = 0; index < 10_001; index++) excluded.note(Buffer.from(`/r/${index}.pyc`));
  assert.equal(excluded.since(mark), undefined);
  // A mark taken after the overflow, with nothing noted since: nothing left out below it.
  assert.deepEqual(pathsIn(excluded, excluded.since(excluded.mark())), []);
  const late = excluded.mark();
  excluded.note(Buffer.from('/r/late.pyc'));
  assert.equal(excluded.since(late), undefined);
});

test('past 4 MiB of kept paths nothing more is kept: long paths withdraw the proofs rather than fill the memory', () => {
  const excluded = new ExcludedPaths();
  const mark = excluded.mark();
  const long = Buffer.alloc(30_000, 0x61);
  for (let index = 0; index < 139; index++) excluded.note(long);
  assert.deepEqual(pathsIn(excluded, excluded.since(mark))?.length, 139);
  excluded.note(long);
  assert.equal(excluded.since(mark), undefined);
  // Nothing kept after the first path not kept, even a short one: a later range is whole or withdrawn.
  const late = excluded.mark();
  excluded.note(Buffer.from('/r/short'));
  assert.equal(excluded.since(late), undefined);
});
