// Regression: the server's refusals of an entry past its limits (entry-limits.ts) named the path but not
// the client, unlike its other refusals (a Begin's labels, a chunk query): a notification or a status
// reason quoting one read "entry /data/f: …: refused", and only the surrounding words could say whose.
// Every limit is exceeded here once, and each refusal must name the client and the entry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, type EntryMeta } from '../src/proto/cpsbackup';
import {
  checkEntryLimits, MAX_LINK_TARGET_BYTES, MAX_OWNER_NAME_BYTES, MAX_RECEIVED_EXTENTS, MAX_XATTR_NAME_BYTES, MAX_XATTR_VALUE_BYTES,
} from '../src/server/entry-limits';
import { MAX_ENTRY_PATH_BYTES } from '../src/common/entry-path';
import { meta } from './support/hostile-client';

const FILE = EntryType.ENTRY_TYPE_FILE;
const xattr = (name: string, valueBytes = 1): { name: Buffer; value: Buffer } => ({ name: Buffer.from(name), value: Buffer.alloc(valueBytes) });

const OVER_LIMITS: ReadonlyArray<readonly [string, EntryMeta, RegExp]> = [
  ['too many extents', meta('/data/f', FILE, { size: 2 ** 50, extents: new Array<number>(2 * MAX_RECEIVED_EXTENTS + 2).fill(0) }), /extents, more than/],
  ['an extent offset without its length', meta('/data/f', FILE, { size: 10, extents: [0] }), /an extent offset without its length/],
  ['extents beyond the file', meta('/data/f', FILE, { size: 10, extents: [0, 20] }), /extents out of order or beyond the file's size/],
  ['extents out of order', meta('/data/f', FILE, { size: 100, extents: [50, 10, 0, 10] }), /extents out of order/],
  ['a long link target', meta('/data/f', EntryType.ENTRY_TYPE_SYMLINK, { linkTarget: 'l'.repeat(MAX_LINK_TARGET_BYTES + 1) }), /a link target of/],
  ['a long hard link target', meta('/data/f', FILE, { hardlinkTarget: Buffer.alloc(MAX_ENTRY_PATH_BYTES + 1, 0x61) }), /a hard link target of/],
  ['a long owner name', meta('/data/f', FILE, { user: 'u'.repeat(MAX_OWNER_NAME_BYTES + 1) }), /an owner name of/],
  ['a long group name', meta('/data/f', FILE, { group: 'g'.repeat(MAX_OWNER_NAME_BYTES + 1) }), /a group name of/],
  ['an empty xattr name', meta('/data/f', FILE, { xattrs: [xattr('')] }), /an extended attribute name of 0 bytes/],
  ['a long xattr name', meta('/data/f', FILE, { xattrs: [xattr(`user.${'n'.repeat(MAX_XATTR_NAME_BYTES)}`)] }), /an extended attribute name of/],
  ['a long xattr value', meta('/data/f', FILE, { xattrs: [xattr('user.a', MAX_XATTR_VALUE_BYTES + 1)] }), /an extended attribute value of/],
  ['too many xattr names', meta('/data/f', FILE, { xattrs: Array.from({ length: 300 }, (_, index) => xattr(`user.${String(index).padStart(250, 'x')}`)) }),
    /extended attribute names of \d+ bytes in all/],
];

for (const [what, entry, reason] of OVER_LIMITS) {
  test(`${what}: refused, naming the client and the entry`, () => {
    assert.throws(() => checkEntryLimits('mallory', entry, () => '/data/f'), (error: Error) => {
      assert.equal(error.name, 'ProtocolError');
      assert.match(error.message, /^client "mallory" sent entry \/data\/f: .+: refused$/);
      assert.match(error.message, reason);
      return true;
    });
  });
}

test('an entry within every limit passes', () => {
  checkEntryLimits('node1', meta('/data/f', FILE, { size: 4096, extents: [0, 512, 1024, 512], user: 'u', group: 'g', xattrs: [xattr('user.a', 100)] }), () => '/data/f');
});
