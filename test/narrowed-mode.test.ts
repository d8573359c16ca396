// The mode a restored entry gets when its owner or access ACL could not be set: never more access than
// the backup's owner and ACL gave (see src/client/restore-tree/narrowed-mode.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { narrowedMode, owningGroupAccess } from '../src/client/restore-tree/narrowed-mode';
import { ACL_GROUP, ACL_NO_ID, ACL_USER, aclBlob } from './support/acl-blob';

/** An access ACL as Linux stores it in system.posix_acl_access: version 2, then tag, perm, id entries. */
function aclValue(entries: readonly [tag: number, permissions: number][]): Buffer {
  return aclBlob(entries.map(([tag, permissions]) => [tag, permissions, tag === ACL_USER || tag === ACL_GROUP ? 12345 : ACL_NO_ID]));
}

const USER_OBJ = 0x01, USER = 0x02, GROUP_OBJ = 0x04, MASK = 0x10, OTHER = 0x20;
const ACL = 'xattr system.posix_acl_access';

test('the owning group keeps its own entry within the mask; named entries are not given to it', () => {
  assert.equal(owningGroupAccess(aclValue([[USER_OBJ, 6], [USER, 6], [GROUP_OBJ, 0], [MASK, 6], [OTHER, 0]])), 0);
  assert.equal(owningGroupAccess(aclValue([[USER_OBJ, 7], [GROUP_OBJ, 7], [MASK, 5], [OTHER, 0]])), 5);
  assert.equal(owningGroupAccess(aclValue([[USER_OBJ, 6], [GROUP_OBJ, 4], [OTHER, 4]])), 4, 'no mask: the entry itself');
  assert.equal(owningGroupAccess(Buffer.from('not an acl')), 0, 'unreadable: nothing');
  assert.equal(owningGroupAccess(Buffer.alloc(12)), 0, 'another version: nothing');
});

test('a failed ACL narrows the group bits; a set one, or none, leaves the mode as it is', () => {
  const acl = aclValue([[USER_OBJ, 6], [USER, 6], [GROUP_OBJ, 4], [MASK, 6], [OTHER, 0]]);
  assert.equal(narrowedMode(0o660, new Set([ACL]), acl).mode, 0o640);
  assert.deepEqual(narrowedMode(0o660, new Set(), acl), { mode: 0o660, reasons: [] });
  assert.deepEqual(narrowedMode(0o660, new Set([ACL]), undefined), { mode: 0o660, reasons: [] }, 'no ACL in the backup');
  assert.deepEqual(narrowedMode(0o640, new Set([ACL]), acl), { mode: 0o640, reasons: [] }, 'already within: nothing said');
  assert.equal(narrowedMode(0o2770, new Set([ACL, 'xattr user.x']), acl).mode, 0o2740, 'only the group bits change');
});

test('a failed owner leaves the set-ID bits off, and only then', () => {
  assert.equal(narrowedMode(0o6755, new Set(['owner']), undefined).mode, 0o755);
  assert.equal(narrowedMode(0o1777, new Set(['owner']), undefined).mode, 0o1777, 'sticky stays');
  assert.deepEqual(narrowedMode(0o755, new Set(['owner']), undefined), { mode: 0o755, reasons: [] });
  assert.equal(narrowedMode(0o4755, new Set(['times', 'xattr user.x']), undefined).mode, 0o4755);
  assert.equal(narrowedMode(0o6770, new Set(['owner', ACL]), aclValue([[GROUP_OBJ, 0], [MASK, 7]])).reasons.length, 2);
});

test('a folder whose owner failed keeps its set-ID bits: they run nothing as anyone', () => {
  assert.deepEqual(narrowedMode(0o2775, new Set(['owner']), undefined, true), { mode: 0o2775, reasons: [] });
  assert.deepEqual(narrowedMode(0o6755, new Set(['owner']), undefined, true), { mode: 0o6755, reasons: [] });
  assert.equal(narrowedMode(0o2775, new Set(['owner']), undefined, false).mode, 0o775, 'a file loses it');
  assert.equal(narrowedMode(0o2770, new Set(['owner', ACL]), aclValue([[GROUP_OBJ, 5], [MASK, 7]]), true).mode, 0o2750, 'the ACL rule still applies');
});
