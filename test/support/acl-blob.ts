// An ACL as Linux stores it in system.posix_acl_access / _default: version 2, then one (tag, permissions, id)
// entry of 8 bytes each, little-endian.

export const ACL_USER_OBJ = 0x01;
export const ACL_USER = 0x02;
export const ACL_GROUP_OBJ = 0x04;
export const ACL_GROUP = 0x08;
export const ACL_MASK = 0x10;
export const ACL_OTHER = 0x20;
/** The id of an entry that names no one (the owner's, the group's, the mask, others). */
export const ACL_NO_ID = 0xffffffff;

export function aclBlob(entries: readonly (readonly [tag: number, permissions: number, id: number])[]): Buffer {
  const value = Buffer.alloc(4 + entries.length * 8);
  value.writeUInt32LE(2, 0);
  entries.forEach(([tag, permissions, id], index) => {
    value.writeUInt16LE(tag, 4 + index * 8);
    value.writeUInt16LE(permissions, 6 + index * 8);
    value.writeUInt32LE(id, 8 + index * 8);
  });
  return value;
}
