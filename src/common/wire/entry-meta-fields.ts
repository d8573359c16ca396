// EntryMeta's field numbers (cpsbackup.proto), for the hand-written writer and reader.

export const LENGTH_DELIMITED = 2;

export const enum Field {
  path = 1, type = 2, mode = 3, uid = 4, gid = 5, mtimeSec = 6, mtimeNsec = 7, ctimeSec = 8, ctimeNsec = 9, inode = 10,
  device = 11, size = 12, linkTarget = 13, user = 14, group = 15, nlink = 16, rdev = 17, xattrs = 18, extents = 19, hardlinkTarget = 20,
  inodeFlags = 21, inodeFlagsKnown = 22, damage = 23,
}

/** Xattr: name = 1, value = 2. */
export const XATTR_NAME = 1;
export const XATTR_VALUE = 2;
