// The attributes that hold a file's POSIX ACLs, and the one the client records beside them with the
// names of the users and groups they name (client/posix/acl-names.ts): the server hands these back in
// the parent index, so a client can tell whether the names it stored are still this machine's.
export const ACL_ACCESS = 'system.posix_acl_access';
export const ACL_DEFAULT = 'system.posix_acl_default';
export const ACL_NAMES = 'cpsbackup.acl_names';

/** What the names of both ACL attributes start with: a stored entry without it holds no ACL, and so no names. */
export const ACL_NAME_PREFIX = 'system.posix_acl_';

/** One of the ACLs, or the names recorded for them. */
export function isAclAttribute(name: Buffer): boolean {
  const text = name.toString('latin1');
  return text === ACL_ACCESS || text === ACL_DEFAULT || text === ACL_NAMES;
}
