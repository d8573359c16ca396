// The walk's record of what exclude_regex left out, by which a moved folder proves its old name only
// when the same rules leave the same names out there: what came after a folder's mark, and nothing
// (so no proof) once more were left out than it keeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExcludedPaths } from '../src/client/excluded-paths';

test('the paths left out since a mark, nested marks see their own and what came after', () => {
  const excluded = new ExcludedPaths();
  excluded.note(Buffer.from('/r/x/node_modules'));
  const outer = excluded.mark();
  excluded.note(Buffer.from('/r/a/node_modules'));
  const inner = excluded.mark();
  assert.deepEqual(excluded.since(inner), []);
  excluded.note(Buffer.from('/r/a/b/node_modules'));
  assert.deepEqual(excluded.since(inner)?.map(String), ['/r/a/b/node_modules']);
  assert.deepEqual(excluded.since(outer)?.map(String), ['/r/a/node_modules', '/r/a/b/node_modules']);
  excluded.restart();
  const next = excluded.mark();
  excluded.note(Buffer.from('/s/node_modules'));
  assert.deepEqual(excluded.since(next)?.map(String), ['/s/node_modules']);
});

test('past the paths it keeps, a mark learns that some were not kept: undefined, never a partial list', () => {
  const excluded = new ExcludedPaths();
  const mark = excluded.mark();
  for (let index = 0; index < 10_001; index++) excluded.note(Buffer.from(`/r/${index}.pyc`));
  assert.equal(excluded.since(mark), undefined);
  // A mark taken after the overflow, with nothing noted since: nothing left out below it.
  assert.deepEqual(excluded.since(excluded.mark()), []);
  const late = excluded.mark();
  excluded.note(Buffer.from('/r/late.pyc'));
  assert.equal(excluded.since(late), undefined);
  excluded.restart();
  const fresh = excluded.mark();
  excluded.note(Buffer.from('/r/again.pyc'));
  assert.deepEqual(excluded.since(fresh)?.map(String), ['/r/again.pyc']);
});
