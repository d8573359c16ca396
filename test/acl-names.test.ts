// The names beside the ACLs (acl-names.ts): recorded for named entries only, given back by name where
// the name exists, by the recorded id where it does not, in the kernel's order, and never as an attribute.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ACL_NAMES, hasCurrentAclNames, withAclNames, withLocalAclIds } from '../src/client/posix/acl-names';
import { OwnerNames } from '../src/client/posix/owners';
import { ACL_ACCESS, ACL_DEFAULT, type Xattr } from '../src/client/posix/xattrs';
import { ACL_GROUP, ACL_GROUP_OBJ, ACL_MASK, ACL_NO_ID, ACL_OTHER, ACL_USER, ACL_USER_OBJ, aclBlob } from './support/acl-blob';

/** A machine's accounts as a table: the name service of the test. */
class AccountTable extends OwnerNames {
  constructor(private readonly users: Record<string, number>, private readonly groups: Record<string, number>) {
    super();
  }

  override userName(uid: number): string | undefined { return Object.keys(this.users).find((name) => this.users[name] === uid); }
  override groupName(gid: number): string | undefined { return Object.keys(this.groups).find((name) => this.groups[name] === gid); }
  override userId(name: string): number | undefined { return this.users[name]; }
  override groupId(name: string): number | undefined { return this.groups[name]; }
}

const access = (value: Buffer): Xattr => ({ name: Buffer.from(ACL_ACCESS), value });

test('an ACL naming nobody, or ids without names, records nothing', () => {
  const here = new AccountTable({ alice: 1000 }, {});
  const plain = [access(aclBlob([[ACL_USER_OBJ, 6, ACL_NO_ID], [ACL_GROUP_OBJ, 4, ACL_NO_ID], [ACL_OTHER, 4, ACL_NO_ID]]))];
  assert.equal(withAclNames(plain, here), plain);
  const unnamed = [access(aclBlob([[ACL_USER_OBJ, 6, ACL_NO_ID], [ACL_USER, 4, 4242], [ACL_GROUP_OBJ, 4, ACL_NO_ID], [ACL_MASK, 4, ACL_NO_ID], [ACL_OTHER, 4, ACL_NO_ID]]))];
  assert.equal(withAclNames(unnamed, here), unnamed);
});

test('names are recorded, given back by name where they exist, by id where not, sorted as the kernel wants, and never set', () => {
  const there = new AccountTable({ alice: 1000, bob: 1001 }, { staff: 50 });
  const value = aclBlob([[ACL_USER_OBJ, 6, ACL_NO_ID], [ACL_USER, 7, 1000], [ACL_USER, 4, 1001], [ACL_USER, 4, 1500], [ACL_GROUP_OBJ, 4, ACL_NO_ID], [ACL_GROUP, 6, 50], [ACL_MASK, 7, ACL_NO_ID], [ACL_OTHER, 0, ACL_NO_ID]]);
  const recorded = withAclNames([{ name: Buffer.from('user.note'), value: Buffer.from('x') }, access(value)], there);
  assert.deepEqual(recorded.map((xattr) => xattr.name.toString()), [ACL_NAMES, ACL_ACCESS, 'user.note'], 'in name order');

  // Elsewhere: alice is 2000 (after 1500 now), bob does not exist, staff is 60.
  const here = new AccountTable({ alice: 2000 }, { staff: 60 });
  const given = withLocalAclIds(recorded, here);
  assert.deepEqual(given.map((xattr) => xattr.name.toString()), [ACL_ACCESS, 'user.note'], 'the names are no attribute to set');
  assert.deepEqual(given[0].value, aclBlob([[ACL_USER_OBJ, 6, ACL_NO_ID], [ACL_USER, 4, 1001], [ACL_USER, 4, 1500], [ACL_USER, 7, 2000], [ACL_GROUP_OBJ, 4, ACL_NO_ID], [ACL_GROUP, 6, 60], [ACL_MASK, 7, ACL_NO_ID], [ACL_OTHER, 0, ACL_NO_ID]]));

  // Where it was taken, nothing changes.
  assert.deepEqual(withLocalAclIds(recorded, there)[0].value, value);
});

test('names this version cannot read leave the ACL as recorded', () => {
  const value = aclBlob([[ACL_USER_OBJ, 6, ACL_NO_ID], [ACL_USER, 7, 1000], [ACL_GROUP_OBJ, 4, ACL_NO_ID], [ACL_MASK, 7, ACL_NO_ID], [ACL_OTHER, 0, ACL_NO_ID]]);
  const here = new AccountTable({ alice: 2000 }, {});
  for (const names of ['not json', 'null', '[1]', '{"users":{"1000":7}}']) {
    const given = withLocalAclIds([{ name: Buffer.from(ACL_NAMES), value: Buffer.from(names) }, access(value)], here);
    assert.deepEqual(given, [access(value)], names);
  }
});

// Regression: an unchanged file took its stored names from the parent backup, so after a user was
// renamed and its old name given to a new id, the backup recorded the id under the old name and the
// restore gave the permission to the new holder of that name. The stored names are checked against
// this machine's names now: anything withAclNames would record otherwise is stale.
test('stored names are current only when withAclNames would record the same names for the same ACLs now', () => {
  const acl = access(aclBlob([[ACL_USER_OBJ, 6, ACL_NO_ID], [ACL_USER, 7, 1000], [ACL_GROUP_OBJ, 4, ACL_NO_ID], [ACL_GROUP, 4, 50], [ACL_MASK, 7, ACL_NO_ID], [ACL_OTHER, 0, ACL_NO_ID]]));
  const folderDefault: Xattr = { name: Buffer.from(ACL_DEFAULT), value: aclBlob([[ACL_USER_OBJ, 7, ACL_NO_ID], [ACL_USER, 7, 1001], [ACL_GROUP_OBJ, 5, ACL_NO_ID], [ACL_MASK, 7, ACL_NO_ID], [ACL_OTHER, 0, ACL_NO_ID]]) };
  const then = new AccountTable({ alice: 1000, bob: 1001 }, { staff: 50 });
  const stored = withAclNames([acl, folderDefault], then);
  assert.equal(hasCurrentAclNames(stored, then), true, 'nothing changed');
  // Another lookup service with the same accounts: the record is compared by meaning, not by its bytes.
  assert.equal(hasCurrentAclNames(stored, new AccountTable({ bob: 1001, alice: 1000, carol: 7 }, { staff: 50, other: 51 })), true);
  const stale = [
    ['alice renamed, her old name given to a new id', new AccountTable({ alicia: 1000, alice: 1300, bob: 1001 }, { staff: 50 })],
    ['the group renamed', new AccountTable({ alice: 1000, bob: 1001 }, { team: 50 })],
    ['a user of the default ACL deleted', new AccountTable({ alice: 1000 }, { staff: 50 })],
  ] as const;
  for (const [what, now] of stale) assert.equal(hasCurrentAclNames(stored, now), false, what);

  // An id with no name then and one now, and ACLs stored before names were kept: their names are missing.
  const unnamed = withAclNames([acl], new AccountTable({}, {}));
  assert.equal(hasCurrentAclNames(unnamed, new AccountTable({}, {})), true, 'still no names');
  assert.equal(hasCurrentAclNames(unnamed, then), false, 'names now');
  assert.equal(hasCurrentAclNames(stored, new AccountTable({}, {})), false, 'names gone');
  // A record this version cannot read is not current: read again, the file records it anew.
  assert.equal(hasCurrentAclNames([acl, { name: Buffer.from(ACL_NAMES), value: Buffer.from('not json') }], then), false);
});
