// The names beside the ACLs (acl-names.ts): recorded for named entries only, given back by name where
// the name exists, by the recorded id where it does not, in the kernel's order, and never as an attribute.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ACL_NAMES, withAclNames, withLocalAclIds } from '../src/client/posix/acl-names';
import { OwnerNames } from '../src/client/posix/owners';
import { ACL_ACCESS, type Xattr } from '../src/client/posix/xattrs';
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
