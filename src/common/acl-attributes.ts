// The attributes that hold a file's POSIX ACLs, and the one the client records beside them with the
// names of the users and groups they name (client/posix/acl-names.ts): the server hands these back in
// the parent index, so a client can tell whether the names it stored are still this machine's.
export const ACL_ACCESS = 'system.posix_acl_access';
export const ACL_DEFAULT = 'system.posix_acl_default';
export const ACL_NAMES = 'cpsbackup.acl_names';

/** What the names of both ACL attributes start with: a stored entry without it holds no ACL, and so no names. */
export const ACL_NAME_PREFIX = 'system.posix_acl_';

const ACL_ATTRIBUTE_NAMES = [ACL_ACCESS, ACL_DEFAULT, ACL_NAMES].map((name) => Buffer.from(name, 'latin1'));

/** One of the ACLs, or the names recorded for them. Compared as bytes: no string is made for each attribute of each entry. */
export function isAclAttribute(name: Buffer): boolean {
  return ACL_ATTRIBUTE_NAMES.some((known) => known.length === name.length && known.equals(name));
}
