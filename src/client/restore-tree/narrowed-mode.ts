// The mode an entry is given when part of its metadata could not be set: never more access than it had.
// The entry itself is kept (its content is verified); what was not set is listed, exit 3.
import { ACL_ACCESS } from '../posix/xattrs';

/** The ACL entry tags of Linux's posix_acl_xattr format that decide the owning group's access. */
const ACL_GROUP_OBJ = 0x04;
const ACL_MASK = 0x10;
const ACL_XATTR_VERSION = 2;
const SET_ID_BITS = 0o6000;
const GROUP_BITS = 0o070;

export interface NarrowedMode {
  readonly mode: number;
  /** Why bits were left off, one line each; empty when the mode is the backup's. */
  readonly reasons: readonly string[];
}

/**
 * - The owner not given (chown refused: NFS root_squash, an id a user namespace does not map): a
 *   file's set-user-ID and set-group-ID bits are left off, as GNU tar does. The program would otherwise
 *   run as whoever owns it now, often root. A folder that has the group the backup gave it anyway (its
 *   parent's set-group-ID bit, or the restoring user's own group) keeps them: its set-group-ID bit only
 *   makes what is created in it take that group (a shared folder depends on it), Linux ignores a
 *   folder's set-user-ID bit, and neither runs anything as anyone. A folder in another group loses them
 *   like a file: it would hand that wrong group to everything created in it.
 * - The access ACL not set (a target without ACLs: sshfs, NFSv3, vfat, ramfs): with an ACL, the mode's
 *   group bits are the ACL's mask, the most any named user or group gets, not what the owning group had.
 *   They become the owning group's own entry within that mask; the named users and groups lose their
 *   access rather than the whole group gaining it.
 */
export function narrowedMode(mode: number, failedSteps: ReadonlySet<string>, accessAcl: Buffer | undefined, isFolderInItsGroup = false): NarrowedMode {
  const reasons: string[] = [];
  let narrowed = mode;
  if (failedSteps.has('owner') && !isFolderInItsGroup && (narrowed & SET_ID_BITS) !== 0) {
    narrowed &= ~SET_ID_BITS;
    reasons.push('set-user-ID and set-group-ID bits left off, as the owner was not set');
  }
  if (accessAcl !== undefined && failedSteps.has(`xattr ${ACL_ACCESS}`)) {
    const groupBits = (owningGroupAccess(accessAcl) << 3) & (narrowed & GROUP_BITS);
    if (groupBits !== (narrowed & GROUP_BITS)) {
      narrowed = (narrowed & ~GROUP_BITS) | groupBits;
      reasons.push(`group permissions narrowed to the owning group's own (${(groupBits >> 3).toString(8)}), as the ACL was not set`);
    }
  }
  return { mode: narrowed, reasons };
}

/** The owning group's effective rwx bits (0-7) in an access ACL's xattr value; 0 when it cannot be read. */
export function owningGroupAccess(value: Buffer): number {
  if (value.length < 4 || (value.length - 4) % 8 !== 0 || value.readUInt32LE(0) !== ACL_XATTR_VERSION) return 0;
  let group: number | undefined;
  let mask = 0o7;
  for (let offset = 4; offset < value.length; offset += 8) {
    const tag = value.readUInt16LE(offset);
    const permissions = value.readUInt16LE(offset + 2) & 0o7;
    if (tag === ACL_GROUP_OBJ) group = permissions;
    else if (tag === ACL_MASK) mask = permissions;
  }
  return (group ?? 0) & mask;
}
