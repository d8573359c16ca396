// The names of the users and groups a POSIX ACL names. The kernel's ACL (system.posix_acl_access and
// _default) holds ids; the owner is restored by name where the name exists here (tar's rule), so an ACL
// restored by id onto a machine whose ids differ would grant its access to whoever holds the old id
// there, and take it from the user it named. The names travel beside the ACLs as one more attribute of
// the entry's list, under a name in no namespace Linux knows: no file system holds an attribute of that
// name, so it never collides with one, and it is never written to a file.
import type { OwnerNames } from './owners';
import type { Xattr } from './xattrs';
import { ACL_ACCESS, ACL_DEFAULT, ACL_NAMES } from '../../common/acl-attributes';

export { ACL_NAMES };

/** Linux's posix_acl_xattr format: a 4-byte version, then 8-byte entries (tag u16, permissions u16, id u32), little-endian. */
const ACL_XATTR_VERSION = 2;
const HEADER_BYTES = 4;
const ENTRY_BYTES = 8;
const ACL_USER = 0x02;
const ACL_GROUP = 0x08;

interface AclNamesRecord {
  readonly users: Record<string, string>;
  readonly groups: Record<string, string>;
}

function isAcl(name: Buffer): boolean {
  const text = name.toString('latin1');
  return text === ACL_ACCESS || text === ACL_DEFAULT;
}

export function isAclNames(name: Buffer | string): boolean {
  return (typeof name === 'string' ? name : name.toString('latin1')) === ACL_NAMES;
}

/** Each named entry of a well-formed ACL value: its tag, id and the offset of its id; none for any other value. */
function namedEntries(value: Buffer): { tag: number; id: number; offset: number }[] {
  if (value.length < HEADER_BYTES || (value.length - HEADER_BYTES) % ENTRY_BYTES !== 0 || value.readUInt32LE(0) !== ACL_XATTR_VERSION) return [];
  const entries: { tag: number; id: number; offset: number }[] = [];
  for (let offset = HEADER_BYTES; offset < value.length; offset += ENTRY_BYTES) {
    const tag = value.readUInt16LE(offset);
    if (tag === ACL_USER || tag === ACL_GROUP) entries.push({ tag, id: value.readUInt32LE(offset + 4), offset });
  }
  return entries;
}

/**
 * The attributes as read, with the names of the users and groups their ACLs name, where an id has a
 * name on this machine; unchanged when no ACL names anyone (most files: nothing is looked up).
 */
export function withAclNames(xattrs: Xattr[], owners: OwnerNames): Xattr[] {
  const names = namesOf(xattrs, owners);
  if (names === undefined) return xattrs;
  const record: Xattr = { name: Buffer.from(ACL_NAMES), value: Buffer.from(JSON.stringify(names)) };
  // Kept in name order, as read: the list compares the same however it was built.
  return [...xattrs, record].sort((a, b) => Buffer.compare(a.name, b.name));
}

/**
 * Whether the names stored beside these ACLs (a parent backup's ACLs and names, as its index holds
 * them) are the ones this machine gives their ids now: what withAclNames would record for the same
 * ACLs today. Not when a user or group was renamed, deleted or given the id since (nothing of that
 * shows in the file's stat), nor when the names are missing (a backup from before they were kept) or
 * unreadable: the file is then read again and its names recorded anew.
 */
export function hasCurrentAclNames(stored: readonly Xattr[], owners: OwnerNames): boolean {
  const recorded = stored.find((xattr) => isAclNames(xattr.name));
  const current = namesOf(stored, owners);
  if (recorded === undefined || current === undefined) return recorded === current;
  const parsed = parsedNames(recorded.value);
  return parsed !== undefined && isSameMap(parsed.users, current.users) && isSameMap(parsed.groups, current.groups);
}

/** The names of the users and groups the ACLs among these attributes name, by id; undefined when none has a name here. */
function namesOf(xattrs: readonly Xattr[], owners: OwnerNames): AclNamesRecord | undefined {
  const users: Record<string, string> = {};
  const groups: Record<string, string> = {};
  let isNamed = false;
  for (const xattr of xattrs) {
    if (!isAcl(xattr.name)) continue;
    for (const { tag, id } of namedEntries(xattr.value)) {
      const name = tag === ACL_USER ? owners.userName(id) : owners.groupName(id);
      if (name === undefined) continue;
      (tag === ACL_USER ? users : groups)[String(id)] = name;
      isNamed = true;
    }
  }
  return isNamed ? { users, groups } : undefined;
}

function isSameMap(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => b[key] === a[key]);
}

/**
 * The attributes to give here: each ACL's named users and groups by name where the name exists here,
 * else by the recorded id (as the owner), and the names themselves left out. Entries are put back in
 * the order the kernel requires (by tag, then id). Unchanged when the backup recorded no names.
 */
export function withLocalAclIds(xattrs: readonly Xattr[], owners: OwnerNames): Xattr[] {
  const recorded = xattrs.find((xattr) => isAclNames(xattr.name));
  if (recorded === undefined) return [...xattrs];
  const names = parsedNames(recorded.value);
  return xattrs.filter((xattr) => xattr !== recorded).map((xattr) => {
    if (names === undefined || !isAcl(xattr.name)) return xattr;
    return { name: xattr.name, value: remapped(xattr.value, names, owners) };
  });
}

/** The recorded names; undefined for a value this version cannot read (its ACLs then keep their ids). */
function parsedNames(value: Buffer): AclNamesRecord | undefined {
  try {
    const parsed = JSON.parse(value.toString('utf8')) as Partial<AclNamesRecord> | null;
    if (parsed === null || typeof parsed !== 'object') return undefined;
    return { users: stringsOf(parsed.users), groups: stringsOf(parsed.groups) };
  } catch {
    return undefined;
  }
}

function stringsOf(value: unknown): Record<string, string> {
  if (value === null || typeof value !== 'object') return {};
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).filter((pair): pair is [string, string] => typeof pair[1] === 'string'));
}

function remapped(value: Buffer, names: AclNamesRecord, owners: OwnerNames): Buffer {
  const entries = namedEntries(value);
  if (entries.length === 0) return value;
  const result = Buffer.from(value);
  let isChanged = false;
  for (const { tag, id, offset } of entries) {
    const name = (tag === ACL_USER ? names.users : names.groups)[String(id)];
    if (name === undefined) continue;
    const local = tag === ACL_USER ? owners.userId(name) : owners.groupId(name);
    if (local === undefined || local === id) continue;
    result.writeUInt32LE(local, offset + 4);
    isChanged = true;
  }
  return isChanged ? sortedEntries(result) : value;
}

/** The entries sorted by tag, then a named entry's id: the kernel refuses an ACL out of that order. */
function sortedEntries(value: Buffer): Buffer {
  const entries: Buffer[] = [];
  for (let offset = HEADER_BYTES; offset < value.length; offset += ENTRY_BYTES) entries.push(value.subarray(offset, offset + ENTRY_BYTES));
  const isNamedTag = (tag: number): boolean => tag === ACL_USER || tag === ACL_GROUP;
  entries.sort((a, b) => {
    const byTag = a.readUInt16LE(0) - b.readUInt16LE(0);
    if (byTag !== 0 || !isNamedTag(a.readUInt16LE(0))) return byTag;
    return a.readUInt32LE(4) - b.readUInt32LE(4);
  });
  return Buffer.concat([value.subarray(0, HEADER_BYTES), ...entries]);
}
