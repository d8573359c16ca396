// Bounds on what one received entry may carry besides its path: extents, extended attributes and a
// link target. Each is kept in memory until its entry is written (a later hard link reads its first
// path's back from the write session), so one tiny message must not cost the server much. The bounds
// never refuse what an honest client sends: Linux's own limits, or else what fits in one message.
import type { EntryMeta } from '../proto/cpsbackup';
import { ProtocolError } from '../common/errors';
import { MAX_ENTRY_PATH_BYTES } from '../common/entry-path';
import { maxMessageBytes } from '../common/tls/credentials';

/**
 * An entry travels whole in one message. A sparse file's extents come from SEEK_DATA/SEEK_HOLE, whose
 * granularity is a block (512 bytes at least): after the first, each extent starts at 1024 or beyond
 * and holds 512 bytes or more, two varints of 2 bytes at least. So no message holds more than this.
 * Far above what this project's client sends (common/entry-limits.ts MAX_EXTENTS): older and other
 * clients may send every extent.
 */
export const MAX_RECEIVED_EXTENTS = maxMessageBytes / 4;
/** Linux's XATTR_NAME_MAX, XATTR_SIZE_MAX and XATTR_LIST_MAX (all names, each with its NUL). */
export const MAX_XATTR_NAME_BYTES = 255;
export const MAX_XATTR_VALUE_BYTES = 64 * 1024;
export const MAX_XATTR_NAMES_BYTES = 64 * 1024;
/** Names and values of one entry: what fits in the one message it travels in. */
export const MAX_XATTR_BYTES = maxMessageBytes;
/** A symlink's target is at most PATH_MAX (4096) bytes on Linux; the bound on paths is far beyond it. */
export const MAX_LINK_TARGET_BYTES = MAX_ENTRY_PATH_BYTES;

/**
 * An owner's or group's name. LOGIN_NAME_MAX is 256, but names from a directory (SSSD's
 * user@domain, an AD userPrincipalName of up to 1024 characters) pass it; restored by name, so never
 * cut, and shown escaped (cli/format.ts). Beyond this, a name is a way to fill the catalog.
 */
export const MAX_OWNER_NAME_BYTES = 4096;

/**
 * Refuses an entry that carries more than any honest client sends, or extents no file has; `shown`
 * names it, called only for a refusal. The refusal names the client too: it is read in the server's
 * log, notifications and status beside other clients' backups.
 */
export function checkEntryLimits(clientName: string, meta: EntryMeta, shown: () => string): void {
  const refuse = (what: string): never => {
    throw new ProtocolError(`client "${clientName}" sent entry ${shown()}: ${what}: refused`);
  };
  if (meta.extents.length > 2 * MAX_RECEIVED_EXTENTS) refuse(`${meta.extents.length / 2} extents, more than the ${MAX_RECEIVED_EXTENTS} a file can have`);
  if (meta.extents.length > 0) checkExtents(meta, refuse);
  if (meta.linkTarget.length > MAX_LINK_TARGET_BYTES) refuse(`a link target of ${meta.linkTarget.length} bytes, more than ${MAX_LINK_TARGET_BYTES}`);
  if (meta.hardlinkTarget.length > MAX_ENTRY_PATH_BYTES) refuse(`a hard link target of ${meta.hardlinkTarget.length} bytes, more than ${MAX_ENTRY_PATH_BYTES}`);
  if (isOwnerNameTooLong(meta.user)) refuse(`an owner name of ${Buffer.byteLength(meta.user)} bytes, more than ${MAX_OWNER_NAME_BYTES}`);
  if (isOwnerNameTooLong(meta.group)) refuse(`a group name of ${Buffer.byteLength(meta.group)} bytes, more than ${MAX_OWNER_NAME_BYTES}`);
  let namesBytes = 0;
  let totalBytes = 0;
  for (const { name, value } of meta.xattrs) {
    if (name.length === 0 || name.length > MAX_XATTR_NAME_BYTES) {
      refuse(`an extended attribute name of ${name.length} bytes; names are 1 to ${MAX_XATTR_NAME_BYTES} bytes`);
    }
    if (value.length > MAX_XATTR_VALUE_BYTES) refuse(`an extended attribute value of ${value.length} bytes, more than ${MAX_XATTR_VALUE_BYTES}`);
    namesBytes += name.length + 1;
    totalBytes += name.length + value.length;
  }
  if (namesBytes > MAX_XATTR_NAMES_BYTES) refuse(`extended attribute names of ${namesBytes} bytes in all, more than ${MAX_XATTR_NAMES_BYTES}`);
  if (totalBytes > MAX_XATTR_BYTES) refuse(`extended attributes of ${totalBytes} bytes in all, more than ${MAX_XATTR_BYTES}`);
}

/** Extents in order, not overlapping, inside the file: what the restorer writes back must fit. */
function checkExtents(meta: EntryMeta, refuse: (what: string) => never): void {
  if (meta.extents.length % 2 !== 0) refuse('an extent offset without its length');
  let end = 0;
  for (let index = 0; index < meta.extents.length; index += 2) {
    const offset = meta.extents[index];
    const length = meta.extents[index + 1];
    if (offset < end || offset + length > meta.size) refuse('extents out of order or beyond the file\'s size');
    end = offset + length;
  }
}

/** A UTF-16 unit takes at most 3 bytes in UTF-8: most names are not encoded to be measured (checked for every entry). */
function isOwnerNameTooLong(name: string): boolean {
  return name.length * 3 > MAX_OWNER_NAME_BYTES && Buffer.byteLength(name) > MAX_OWNER_NAME_BYTES;
}
