// The names beside the ACLs (acl-names.ts): recorded for named entries only, given back by name where
// the name exists, by the recorded id where it does not, in the kernel's order, and never as an attribute.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ACL_NAMES, withAclNames, withLocalAclIds } from '../src/client/posix/acl-names';
import { OwnerNames } from '../src/client/posix/owners';
import { ACL_ACCESS, type Xattr } from '../src/client/posix/xattrs';

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

const USER_OBJ = 0x01;
const USER = 0x02;
const GROUP_OBJ = 0x04;
const GROUP = 0x08;
const MASK = 0x10;
const OTHER = 0x20;
const NO_ID = 0xffffffff;

function acl(entries: readonly (readonly [tag: number, permissions: number, id: number])[]): Buffer {
  const value = Buffer.alloc(4 + entries.length * 8);
  value.writeUInt32LE(2, 0);
  entries.forEach(([tag, permissions, id], index) => {
    value.writeUInt16LE(tag, 4 + index * 8);
    value.writeUInt16LE(permissions, 6 + index * 8);
    value.writeUInt32LE(id, 8 + index * 8);
  });
  return value;
}

const access = (value: Buffer): Xattr => ({ name: Buffer.from(ACL_ACCESS), value });

test('an ACL naming nobody, or ids without names, records nothing', () => {
  const here = new AccountTable({ alice: 1000 }, {});
  const plain = [access(acl([[USER_OBJ, 6, NO_ID], [GROUP_OBJ, 4, NO_ID], [OTHER, 4, NO_ID]]))];
  assert.equal(withAclNames(plain, here), plain);
  const unnamed = [access(acl([[USER_OBJ, 6, NO_ID], [USER, 4, 4242], [GROUP_OBJ, 4, NO_ID], [MASK, 4, NO_ID], [OTHER, 4, NO_ID]]))];
  assert.equal(withAclNames(unnamed, here), unnamed);
});

test('names are recorded, given back by name where they exist, by id where not, sorted as the kernel wants, and never set', () => {
  const there = new AccountTable({ alice: 1000, bob: 1001 }, { staff: 50 });
  const value = acl([[USER_OBJ, 6, NO_ID], [USER, 7, 1000], [USER, 4, 1001], [USER, 4, 1500], [GROUP_OBJ, 4, NO_ID], [GROUP, 6, 50], [MASK, 7, NO_ID], [OTHER, 0, NO_ID]]);
  const recorded = withAclNames([{ name: Buffer.from('user.note'), value: Buffer.from('x') }, access(value)], there);
  assert.deepEqual(recorded.map((xattr) => xattr.name.toString()), [ACL_NAMES, ACL_ACCESS, 'user.note'], 'in name order');

  // Elsewhere: alice is 2000 (after 1500 now), bob does not exist, staff is 60.
  const here = new AccountTable({ alice: 2000 }, { staff: 60 });
  const given = withLocalAclIds(recorded, here);
  assert.deepEqual(given.map((xattr) => xattr.name.toString()), [ACL_ACCESS, 'user.note'], 'the names are no attribute to set');
  assert.deepEqual(given[0].value, acl([[USER_OBJ, 6, NO_ID], [USER, 4, 1001], [USER, 4, 1500], [USER, 7, 2000], [GROUP_OBJ, 4, NO_ID], [GROUP, 6, 60], [MASK, 7, NO_ID], [OTHER, 0, NO_ID]]));

  // Where it was taken, nothing changes.
  assert.deepEqual(withLocalAclIds(recorded, there)[0].value, value);
});

test('names this version cannot read leave the ACL as recorded', () => {
  const value = acl([[USER_OBJ, 6, NO_ID], [USER, 7, 1000], [GROUP_OBJ, 4, NO_ID], [MASK, 7, NO_ID], [OTHER, 0, NO_ID]]);
  const here = new AccountTable({ alice: 2000 }, {});
  for (const names of ['not json', 'null', '[1]', '{"users":{"1000":7}}']) {
    const given = withLocalAclIds([{ name: Buffer.from(ACL_NAMES), value: Buffer.from(names) }, access(value)], here);
    assert.deepEqual(given, [access(value)], names);
  }
});
