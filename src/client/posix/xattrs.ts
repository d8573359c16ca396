// Extended attributes as bytes: user.*, security.*, trusted.* and POSIX ACLs (system.posix_acl_access
// and system.posix_acl_default). Never follows a final symlink; addresses an entry by fd, O_PATH handle, path or dirfd+name.
import { existsSync } from 'node:fs';
import { type Name, posixAddon } from './addon';
import { handlePath } from './at';

export { ACL_ACCESS, ACL_DEFAULT } from '../../common/acl-attributes';

/**
 * Which entry: an open fd; an O_PATH handle (a symlink, a FIFO, a device: exactly the inode it holds,
 * whatever has its name now, see `throughHandle`); a path (the last component is never followed); or a
 * held folder fd plus one name. The last form goes through /proc/self/fd/<dirfd>/<name>: the kernel's link
 * to the folder we hold plus a name it does not follow, so a path of any total length stays short and
 * nothing is re-resolved.
 */
export type XattrTarget = { readonly fd: number } | { readonly handle: number } | { readonly path: Name } | { readonly dirfd: number; readonly name: Name };

/** The entry behind an O_PATH handle cannot be reached without going by name: nothing was done to it. */
export class HandleUnreachableError extends Error {
  readonly code = 'HANDLE_UNREACHABLE';
  constructor(readonly syscall: string, options?: { cause?: unknown }) {
    super(`${syscall} not done: this kernel takes no O_PATH handle for it and /proc/self/fd is not there to reach the handle's inode `
      + '(mount /proc); never done by name, which could reach another file', options);
  }
}

/**
 * An attribute call on an O_PATH handle's own inode, never by name. Linux 6.13's *xattrat(handle, "",
 * AT_EMPTY_PATH) where the kernel takes the handle: ENOSYS before 6.13, EBADF where it refuses O_PATH
 * (6.18 still does). Else the handle's /proc/self/fd link, followed: the kernel resolves it to the handle's
 * inode itself, a symlink's too (never its target). Without /proc (ENOENT) the call is refused.
 */
function throughHandle<T>(handle: number, atCall: (flags: number) => T, followingCall: (path: string) => T, syscall: string): T {
  try {
    return atCall(posixAddon().constants.AT_EMPTY_PATH);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOSYS' && code !== 'EBADF') throw error;
  }
  try {
    return followingCall(handlePath(handle));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !existsSync('/proc/self/fd')) throw new HandleUnreachableError(syscall, { cause: error });
    throw error;
  }
}

export interface Xattr {
  readonly name: Buffer;
  readonly value: Buffer;
}

function pathOf(target: { readonly path: Name } | { readonly dirfd: number; readonly name: Name }): Name {
  if ('path' in target) return target.path;
  const name = typeof target.name === 'string' ? Buffer.from(target.name) : target.name;
  if (target.dirfd === posixAddon().constants.AT_FDCWD) return name;
  return Buffer.concat([Buffer.from(`/proc/self/fd/${target.dirfd}/`), name]);
}

/**
 * XFS lists each POSIX ACL a second time (to root) under these names, its on-disk form. They are not
 * attributes of their own: backed up, one brought a stale ACL back (written on XFS it is applied,
 * whatever system.posix_acl_* says) and stayed on other file systems as a dead copy. The ACL travels
 * as system.posix_acl_*, once.
 */
const ACL_COPIES = new Set(['trusted.SGI_ACL_FILE', 'trusted.SGI_ACL_DEFAULT']);

export function isAclCopy(name: Buffer | string): boolean {
  return ACL_COPIES.has(typeof name === 'string' ? name : name.toString('latin1'));
}

/** The attribute names, XFS's copies of the ACLs left out. */
export function listXattrs(target: XattrTarget): Buffer[] {
  const addon = posixAddon();
  const names = 'fd' in target ? addon.flistxattr(target.fd)
    : 'handle' in target ? throughHandle(target.handle, (flags) => addon.listxattrat(target.handle, '', flags), (path) => addon.listxattr(path), 'listxattr')
      : addon.llistxattr(pathOf(target));
  return names.some((name) => isAclCopy(name)) ? names.filter((name) => !isAclCopy(name)) : names;
}

export function getXattr(target: XattrTarget, name: Name): Buffer {
  const addon = posixAddon();
  if ('fd' in target) return addon.fgetxattr(target.fd, name);
  if ('handle' in target) {
    return throughHandle(target.handle, (flags) => addon.getxattrat(target.handle, '', flags, name), (path) => addon.getxattr(path, name), 'getxattr');
  }
  return addon.lgetxattr(pathOf(target), name);
}

/** flags: 0 (create or replace), XATTR_CREATE or XATTR_REPLACE. */
export function setXattr(target: XattrTarget, name: Name, value: Buffer, flags = 0): void {
  const addon = posixAddon();
  if ('fd' in target) addon.fsetxattr(target.fd, name, value, flags);
  else if ('handle' in target) {
    throughHandle(target.handle, (atFlags) => addon.setxattrat(target.handle, '', atFlags, name, value, flags),
      (path) => addon.setxattr(path, name, value, flags), 'setxattr');
  } else addon.lsetxattr(pathOf(target), name, value, flags);
}

export function removeXattr(target: XattrTarget, name: Name): void {
  const addon = posixAddon();
  if ('fd' in target) addon.fremovexattr(target.fd, name);
  else if ('handle' in target) {
    throughHandle(target.handle, (flags) => addon.removexattrat(target.handle, '', flags, name), (path) => addon.removexattr(path, name), 'removexattr');
  } else addon.lremovexattr(pathOf(target), name);
}

/**
 * Whether an attribute call failed because the file system has no attributes at all (a FUSE file
 * system that does not implement them, sshfs; NFSv3): errno 95, which glibc names EOPNOTSUPP on Linux
 * (ENOTSUP is the same number, never the name the addon gives; both are taken).
 */
export function isXattrUnsupported(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EOPNOTSUPP' || code === 'ENOTSUP';
}

/** The attribute names, none where the file system has no attributes. */
export function listXattrsIfSupported(target: XattrTarget): Buffer[] {
  try {
    return listXattrs(target);
  } catch (error) {
    if (isXattrUnsupported(error)) return [];
    throw error;
  }
}

/**
 * Every attribute with its value, sorted by name bytes. A filesystem without xattr support answers
 * an empty list; an attribute removed between list and read is left out.
 */
export function readXattrs(target: XattrTarget): Xattr[] {
  const names = listXattrsIfSupported(target);
  const result: Xattr[] = [];
  for (const name of names.sort(Buffer.compare)) {
    try {
      result.push({ name, value: getXattr(target, name) });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENODATA') throw error;
    }
  }
  return result;
}
