// Converts between the wire's EntryMeta and the store's entries.
// Kept apart so the two shapes can evolve independently.
import type { EntryMeta } from '../proto/cpsbackup';
import type { StoredEntry, UnchangedCheckEntry } from '../chunkstore/store';
import { ProtocolError } from '../common/errors';

const NOTHING = Buffer.alloc(0);

/** The store's entry for a received EntryMeta; `size` is the file's size as stored. */
export function newEntryOf(meta: EntryMeta, size: number): Omit<StoredEntry, 'contentId'> {
  if (meta.extents.length % 2 !== 0) throw new ProtocolError(`entry has an odd number of extent values`);
  return {
    path: meta.path, type: meta.type, mode: meta.mode, uid: meta.uid, gid: meta.gid, user: meta.user, group: meta.group,
    mtimeSec: meta.mtimeSec, mtimeNsec: meta.mtimeNsec, ctimeSec: meta.ctimeSec, ctimeNsec: meta.ctimeNsec,
    inode: meta.inode, device: meta.device, nlink: meta.nlink || 1, rdev: meta.rdev, size, linkTarget: meta.linkTarget,
    // The received arrays, not copies: a hard link's entry shares its first path's (upload-session.ts).
    xattrs: meta.xattrs, extents: meta.extents, inodeFlags: meta.inodeFlagsKnown ? meta.inodeFlags : null,
  };
}

/** hardlinkTo: the path of an earlier entry of this restore the entry is a link to. */
export function entryMetaOf(entry: StoredEntry, hardlinkTo?: Buffer): EntryMeta {
  return {
    path: entry.path, type: entry.type, mode: entry.mode, uid: entry.uid, gid: entry.gid, user: entry.user, group: entry.group,
    mtimeSec: entry.mtimeSec, mtimeNsec: entry.mtimeNsec, ctimeSec: entry.ctimeSec, ctimeNsec: entry.ctimeNsec,
    inode: entry.inode, device: entry.device, nlink: entry.nlink, rdev: entry.rdev, size: entry.size, linkTarget: entry.linkTarget,
    xattrs: entry.xattrs.map(({ name, value }) => ({ name, value })), extents: [...entry.extents], hardlinkTarget: hardlinkTo ?? NOTHING,
    inodeFlags: entry.inodeFlags ?? 0, inodeFlagsKnown: entry.inodeFlags !== null,
    // Its attributes or extents do not decode: a restore names it rather than give it back without them in silence.
    damage: entry.damage ?? '',
  };
}

/**
 * What a client needs to tell an unchanged file, and whether it may carry it over as the parent holds it
 * (ParentRequest.unchanged_check_only); every other field is empty. Of the attributes, only the ACLs
 * and the names recorded with them: the client checks those names against its user database now.
 */
export function unchangedCheckMetaOf(entry: UnchangedCheckEntry): EntryMeta {
  return {
    path: entry.path, type: entry.type, mode: entry.mode, uid: entry.uid, gid: entry.gid, user: entry.user, group: entry.group,
    mtimeSec: entry.mtimeSec, mtimeNsec: entry.mtimeNsec, ctimeSec: entry.ctimeSec, ctimeNsec: entry.ctimeNsec,
    inode: entry.inode, device: entry.device, nlink: entry.nlink, rdev: 0, size: entry.size, linkTarget: NOTHING,
    xattrs: [...entry.aclXattrs], extents: [], hardlinkTarget: NOTHING, inodeFlags: 0,
    // Whether a backup read its flags: one that did not is read again (client/parent-index.ts).
    inodeFlagsKnown: entry.inodeFlags !== null, damage: '',
  };
}
