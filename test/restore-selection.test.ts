// Regression: a restore checked each entry against every path it named, one by one (paths.some), so a
// request naming a million paths cost ~19 ms per entry on the server's thread. The selection's cost per
// entry now does not depend on how many paths were named; which entries it selects is unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RestoreSelection } from '../src/server/restore-selection';
import { MAX_SELECTED_NAMES, MAX_SELECTED_PATHS, SelectedPaths } from '../src/server/selected-paths';
import { LimitError } from '../src/common/errors';
import { MAX_ENTRY_PATH_BYTES } from '../src/common/entry-path';
import { EntryType } from '../src/proto/cpsbackup';
import type { StoredEntry } from '../src/chunkstore/store';

const SLASH = 0x2f;

/** The rule as it was written before: the path itself or below it ("/" holds everything). */
function coveredByScan(path: Buffer, paths: readonly Buffer[]): boolean {
  return paths.some((folder) => path.equals(folder) || (folder.length === 1 && folder[0] === SLASH ? path.length > 1
    : path.length > folder.length && path[folder.length] === SLASH && path.subarray(0, folder.length).equals(folder)));
}

function entry(path: string | Buffer, type = EntryType.ENTRY_TYPE_FILE): StoredEntry {
  return { path: typeof path === 'string' ? Buffer.from(path, 'latin1') : path, type } as StoredEntry;
}

test('named paths select themselves and what lies below them, exactly as the scan did', async () => {
  const odd = Buffer.from([0x2f, 0x77, 0xff, 0x0a]); // "/w\xff\n"
  const named = [['/a'], ['/a/'], ['/'], [''], ['/a/b', '/c'], ['a'], ['/x//y'], [odd.toString('latin1')], ['/a', '/a/b'], ['/', 'a'], ['', '/']]
    .map((list) => list.map((path) => Buffer.from(path, 'latin1')));
  const paths = ['/', '', 'a', 'a/b', '/a', '/a/', '/a//', '/a/b', '/a/bc', '/ab', '/a-b', '/a0', '/c', '/c/d/e', '/x/y', '/x//y', '/x//y/z',
    `${odd.toString('latin1')}`, `${odd.toString('latin1')}/z`, '/w\xff']
    .map((path) => Buffer.from(path, 'latin1'));
  for (const list of named) {
    const selected = await SelectedPaths.index(list, 'node1');
    for (const path of paths) {
      assert.equal(selected.covers(path), coveredByScan(path, list), `${JSON.stringify(path.toString('latin1'))} with ${JSON.stringify(list.map((p) => p.toString('latin1')))}`);
    }
  }
});

test('an entry costs the same look-ups whether a restore names ten paths or a hundred thousand', async () => {
  const named = Array.from({ length: 100_000 }, (_, index) => Buffer.from(`/data/named-${index}`));
  let reads = 0;
  // Counts every path the selection reads from the request: building its index reads each once.
  const counted = new Proxy(named, {
    get(target, key, receiver) {
      if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
  const selection = await RestoreSelection.create(counted, undefined, 'node1');
  const afterIndex = reads;
  assert.ok(afterIndex <= named.length * 2, `building the selection read ${afterIndex} paths`);
  const entries = [entry('/data', EntryType.ENTRY_TYPE_DIRECTORY), entry('/data/named-7'), entry('/data/named-7x'),
    ...Array.from({ length: 2_000 }, (_, index) => entry(`/data/other-${index}`)), entry('/data/named-99999')];
  const chosen = await selection.select(entries);
  assert.equal(reads, afterIndex, 'selecting entries read the named paths again');
  const sent = selection.filter(chosen.map((chosenEntry) => ({ entry: chosenEntry })));
  assert.deepEqual(sent.map((item) => item.entry.path.toString()), ['/data', '/data/named-7', '/data/named-99999']);
});

test('indexing the paths of a request that names as many as a restore may lets the event loop turn', async () => {
  const named = Array.from({ length: MAX_SELECTED_PATHS }, (_, index) => Buffer.from(`/${index.toString(36)}`));
  let turns = 0;
  let timer = setImmediate(function tick() { turns++; timer = setImmediate(tick); });
  try {
    const selected = await SelectedPaths.index(named, 'node1');
    assert.ok(selected.covers(Buffer.from(`/${(MAX_SELECTED_PATHS - 1).toString(36)}/below`)));
  } finally {
    clearImmediate(timer);
  }
  assert.ok(turns > 0, 'the event loop never turned while the paths were indexed');
});

// Regression (review of client-sent fields): the paths a restore names were not bounded but by the 4 MiB
// message: a million short ones made a 280 MB tree, one path of two million one-letter folders 470 MB,
// each in about 10 s of the server's thread.
test('a restore naming too many paths, a path longer than any entry\'s or too many folders in all is refused, naming the client', async () => {
  const refusal = async (paths: Buffer[], pattern: RegExp): Promise<void> => {
    await assert.rejects(SelectedPaths.index(paths, 'mallory'), (error: unknown) => {
      assert.ok(error instanceof LimitError, String(error));
      assert.match(error.message, /^client "mallory" asked to restore /);
      assert.match(error.message, pattern);
      return true;
    });
  };
  const million = Array.from({ length: 1_000_000 }, () => Buffer.from('/a'));
  const startedAt = performance.now();
  await refusal(million, new RegExp(`1000000 paths, more than the ${MAX_SELECTED_PATHS}`));
  assert.ok(performance.now() - startedAt < 1000, 'refused before any path is indexed');
  await refusal([Buffer.from('/a'.repeat(2 * 1024 * 1024))], new RegExp(`a path of 4194304 bytes, longer than any entry's \\(${MAX_ENTRY_PATH_BYTES}\\)`));
  const deep = Array.from({ length: 64 }, (_, index) => Buffer.from(`/${index}${'/a'.repeat(MAX_ENTRY_PATH_BYTES / 2 - 4)}`));
  await refusal(deep, new RegExp(`more than ${MAX_SELECTED_NAMES} folders and names in all`));
  // What a receiver names: a dump per table in one folder, and every root beside them.
  const honest = [...Array.from({ length: MAX_SELECTED_PATHS - 10 }, (_, index) => Buffer.from(`/var/lib/cpsbackup/work/dumps/pg/table_${index}`)),
    ...['/etc', '/home', '/srv/www', '/var/lib/cpsbackup/state', Buffer.from('/d').toString().repeat(2000)].map((path) => Buffer.from(path))];
  const selected = await SelectedPaths.index(honest, 'node1');
  assert.ok(selected.covers(Buffer.from('/var/lib/cpsbackup/work/dumps/pg/table_42')));
});

// Regression: the folders held back until something below them is sent were dropped at the first entry
// not below the newest one; in byte order "/r/a-b" (and "/r/a.c", "/r/a b") comes between "/r/a" and
// "/r/a/f", so -i --include /r/a/f restored /r/a without its metadata (made by the client as a bare parent).
test('a folder above a named path is sent even when siblings that extend its name come between them', async () => {
  const selection = await RestoreSelection.create([Buffer.from('/r/a/f'), Buffer.from('/r/a-b/g')], undefined, 'node1');
  const entries = [entry('/r', EntryType.ENTRY_TYPE_DIRECTORY), entry('/r/a', EntryType.ENTRY_TYPE_DIRECTORY), entry('/r/a b', EntryType.ENTRY_TYPE_DIRECTORY),
    entry('/r/a-b', EntryType.ENTRY_TYPE_DIRECTORY), entry('/r/a-b/g'), entry('/r/a.c'), entry('/r/a/f'), entry('/r/b', EntryType.ENTRY_TYPE_DIRECTORY)];
  // Across pages too: the held folders outlive a page.
  const sent = [];
  for (const page of [entries.slice(0, 3), entries.slice(3)]) {
    const chosen = await selection.select(page);
    sent.push(...selection.filter(chosen.map((chosenEntry) => ({ entry: chosenEntry }))).map((item) => item.entry.path.toString()));
  }
  assert.deepEqual(sent, ['/r', '/r/a-b', '/r/a-b/g', '/r/a', '/r/a/f']);
});
