// The paths a files-receiving receiver asks for: every entry of the backup is covered except the dumps,
// whatever folder the dumps sit in (beside the includes, inside one, or with "/" in the backup).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rootsWithout } from '../src/client/receiver/file-roots';

const paths = (...values: string[]): Buffer[] => values.map((value) => Buffer.from(value));
const shown = (roots: Buffer[]): string[] => roots.map((root) => root.toString('latin1')).sort();

/** What a restore of `roots` sends: each root and everything below it. */
function covered(entries: readonly string[], roots: readonly string[]): string[] {
  return entries.filter((entry) => roots.some((root) => entry === root || entry.startsWith(root === '/' ? '/' : `${root}/`)));
}

test('the include folders are asked for whole; the dump folder and its ancestors are not', () => {
  const entries = ['/srv', '/srv/app', '/srv/app/media', '/srv/app/media/a.jpg', '/srv/app/static', '/srv/app/static/x.css',
    '/var', '/var/lib/cpsbackup/work/dumps/app', '/var/lib/cpsbackup/work/dumps/app/dump'];
  const dumps = ['/var/lib/cpsbackup/work/dumps/app/dump'];
  const roots = shown(rootsWithout(paths(...entries), paths(...dumps)));
  assert.deepEqual(roots, ['/srv']);
  assert.deepEqual(covered(entries, roots), entries.filter((entry) => entry.startsWith('/srv')));
});

test('a dump inside an include folder: its siblings are asked for one by one', () => {
  const entries = ['/data', '/data/a.txt', '/data/sub', '/data/sub/b.txt', '/data/work', '/data/work/dump', '/data/work/keep.txt'];
  const roots = shown(rootsWithout(paths(...entries), paths('/data/work/dump')));
  assert.deepEqual(roots, ['/data/a.txt', '/data/sub', '/data/work/keep.txt']);
  assert.deepEqual(covered(entries, roots).sort(), entries.filter((entry) => !['/data', '/data/work', '/data/work/dump'].includes(entry)).sort());
});

test('no dumps: the highest entries; "/" in a backup with a dump is never asked for', () => {
  assert.deepEqual(shown(rootsWithout(paths('/a', '/a/b', '/c'), [])), ['/a', '/c']);
  assert.deepEqual(shown(rootsWithout(paths('/', '/a', '/d'), paths('/d'))), ['/a']);
  assert.deepEqual(shown(rootsWithout(paths('/d'), paths('/d'))), []);
});

test('names that are not UTF-8 come back as the same bytes', () => {
  const odd = Buffer.from([0x2f, 0x6d, 0xff, 0xfe, 0x0a]);
  const roots = rootsWithout([odd, Buffer.concat([odd, Buffer.from('/x')])], paths('/w/dump'));
  assert.equal(roots.length, 1);
  assert.ok(roots[0].equals(odd));
});
