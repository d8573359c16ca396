// EntryMeta read by hand, as ts-proto's EntryMeta.decode reads it (wire-entry-meta.test.ts compares):
// the generated code allocates three empty buffers per entry and reads every 64-bit field through a
// string, which made reading the parent index of 20,000 files a fifth of a no-change backup's client
// time. Anything malformed is a ProtocolError; no value is rounded or wrapped.
import type { EntryMeta, Xattr } from '../../proto/cpsbackup';
import { ProtocolError } from '../errors';
import { Field, LENGTH_DELIMITED, XATTR_NAME, XATTR_VALUE } from './entry-meta-fields';
import { isAclAttribute } from '../acl-attributes';

const EMPTY = Buffer.alloc(0);
const TWO_32 = 2 ** 32;

/** Reads the fields of one message in buffer[start, end). */
class MetaReader {
  /** The last varint read, as two 32-bit halves. */
  private low = 0;
  private high = 0;

  constructor(private readonly buffer: Buffer, private offset: number, private readonly end: number) {}

  get isDone(): boolean {
    return this.offset >= this.end;
  }

  private varint(): void {
    let low = 0;
    let high = 0;
    for (let index = 0; index < 10; index++) {
      if (this.offset >= this.end) throw new ProtocolError('entry metadata ends inside a varint');
      const byte = this.buffer[this.offset++];
      const bits = byte & 0x7f;
      if (index < 4) low |= bits << (7 * index);
      else if (index === 4) {
        low |= bits << 28;
        high |= bits >>> 4;
      } else high |= bits << (7 * index - 32);
      if (byte < 0x80) {
        this.low = low >>> 0;
        this.high = high >>> 0;
        return;
      }
    }
    throw new ProtocolError('entry metadata holds a varint longer than ten bytes');
  }

  tag(): number {
    this.varint();
    // Field number 0 does not exist: ts-proto stops reading there, which would drop the fields after it unseen.
    if (this.high !== 0 || this.low < 8) throw new ProtocolError('entry metadata holds a field number out of range');
    return this.low;
  }

  uint32(): number {
    this.varint();
    return this.low;
  }

  int32(): number {
    this.varint();
    return this.low | 0;
  }

  uint64(what: string): number {
    this.varint();
    if (this.high > 0x1fffff) throw new ProtocolError(`entry metadata: ${what} is larger than 2^53`);
    return this.high * TWO_32 + this.low;
  }

  int64(what: string): number {
    this.varint();
    if ((this.high & 0x80000000) === 0) {
      if (this.high > 0x1fffff) throw new ProtocolError(`entry metadata: ${what} is larger than 2^53`);
      return this.high * TWO_32 + this.low;
    }
    const magnitude = (~this.high >>> 0) * TWO_32 + (~this.low >>> 0) + 1;
    if (magnitude > Number.MAX_SAFE_INTEGER) throw new ProtocolError(`entry metadata: ${what} is -2^53 or smaller`);
    return -magnitude;
  }

  /** A length-delimited field: [start, end) in the buffer. */
  span(): number {
    const length = this.uint64('a length');
    if (length > this.end - this.offset) throw new ProtocolError('entry metadata: a field runs past its message');
    const start = this.offset;
    this.offset += length;
    return start;
  }

  /** A copy: an entry may outlive its message by long (a restore keeps folders to the end), and a view would pin the whole batch. */
  bytes(): Buffer {
    const start = this.span();
    return start === this.offset ? EMPTY : Buffer.from(this.buffer.subarray(start, this.offset));
  }

  /** The field's bytes as a view of the buffer (see bytes()). */
  view(): Buffer {
    const start = this.span();
    return start === this.offset ? EMPTY : this.buffer.subarray(start, this.offset);
  }

  string(): string {
    const start = this.span();
    return this.buffer.toString('utf8', start, this.offset);
  }

  /** Bytes as a string of one character per byte: a Map key that compares as the bytes do. */
  latin1(): string {
    const start = this.span();
    return this.buffer.toString('latin1', start, this.offset);
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0: this.varint(); return;
      case 1: this.advance(8); return;
      case 2: this.span(); return;
      case 5: this.advance(4); return;
      default: throw new ProtocolError(`entry metadata: unsupported protobuf wire type ${wireType}`);
    }
  }

  private advance(count: number): void {
    if (count > this.end - this.offset) throw new ProtocolError('entry metadata: a fixed-size field runs past its message');
    this.offset += count;
  }

  /** A nested message's reader, for [start, end) just read by span(). */
  nested(): MetaReader {
    const start = this.span();
    return new MetaReader(this.buffer, start, this.offset);
  }
}

/**
 * An attribute: its bytes as views (asViews: for a value read to be compared, and copied only if kept) or
 * as copies of their own.
 */
function readXattr(reader: MetaReader, asViews = false): Xattr {
  const xattr: Xattr = { name: EMPTY, value: EMPTY };
  while (!reader.isDone) {
    const tag = reader.tag();
    if (tag === ((XATTR_NAME << 3) | LENGTH_DELIMITED)) xattr.name = asViews ? reader.view() : reader.bytes();
    else if (tag === ((XATTR_VALUE << 3) | LENGTH_DELIMITED)) xattr.value = asViews ? reader.view() : reader.bytes();
    else reader.skip(tag & 7);
  }
  return xattr;
}

/** The varint fields both decoders keep: what a stat gives and the unchanged check compares. */
type StatFields = Pick<EntryMeta, 'type' | 'mode' | 'uid' | 'gid' | 'mtimeSec' | 'mtimeNsec' | 'ctimeSec' | 'ctimeNsec' | 'inode' | 'device' | 'size' | 'nlink'>;

/** Reads a varint field of StatFields into `into`; false (nothing read) for any other field. */
function readStatField(reader: MetaReader, field: number, into: StatFields): boolean {
  switch (field) {
    case Field.type: into.type = reader.int32(); return true;
    case Field.mode: into.mode = reader.uint32(); return true;
    case Field.uid: into.uid = reader.uint32(); return true;
    case Field.gid: into.gid = reader.uint32(); return true;
    case Field.mtimeSec: into.mtimeSec = reader.int64('mtime'); return true;
    case Field.mtimeNsec: into.mtimeNsec = reader.uint32(); return true;
    case Field.ctimeSec: into.ctimeSec = reader.int64('ctime'); return true;
    case Field.ctimeNsec: into.ctimeNsec = reader.uint32(); return true;
    case Field.inode: into.inode = reader.uint64('inode'); return true;
    case Field.device: into.device = reader.uint64('device'); return true;
    case Field.size: into.size = reader.uint64('size'); return true;
    case Field.nlink: into.nlink = reader.uint32(); return true;
    default: return false;
  }
}

/** Decodes buffer[start, end) as an EntryMeta, as ts-proto's EntryMeta.decode does (bytes copied, unknown fields skipped). */
export function decodeEntryMeta(buffer: Buffer, start = 0, end = buffer.length): EntryMeta {
  const meta: EntryMeta = {
    path: EMPTY, type: 0, mode: 0, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 0, ctimeSec: 0, ctimeNsec: 0, inode: 0, device: 0, size: 0,
    linkTarget: EMPTY, user: '', group: '', nlink: 0, rdev: 0, xattrs: [], extents: [], hardlinkTarget: EMPTY, inodeFlags: 0, inodeFlagsKnown: false,
    damage: '',
  };
  const reader = new MetaReader(buffer, start, end);
  while (!reader.isDone) {
    const tag = reader.tag();
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (wireType === 0) {
      if (readStatField(reader, field, meta)) continue;
      switch (field) {
        case Field.rdev: meta.rdev = reader.uint64('rdev'); continue;
        case Field.extents: meta.extents.push(reader.uint64('an extent')); continue;
        case Field.inodeFlags: meta.inodeFlags = reader.uint32(); continue;
        case Field.inodeFlagsKnown: meta.inodeFlagsKnown = reader.uint64('inode_flags_known') !== 0; continue;
      }
    } else if (wireType === LENGTH_DELIMITED) {
      switch (field) {
        case Field.path: meta.path = reader.bytes(); continue;
        case Field.linkTarget: meta.linkTarget = reader.bytes(); continue;
        case Field.user: meta.user = reader.string(); continue;
        case Field.group: meta.group = reader.string(); continue;
        case Field.xattrs: meta.xattrs.push(readXattr(reader.nested())); continue;
        case Field.hardlinkTarget: meta.hardlinkTarget = reader.bytes(); continue;
        case Field.damage: meta.damage = reader.string(); continue;
        case Field.extents: {
          const packed = reader.nested();
          while (!packed.isDone) meta.extents.push(packed.uint64('an extent'));
          continue;
        }
      }
    }
    reader.skip(wireType);
  }
  return meta;
}

/**
 * What the parent index keeps of an entry: the fields the unchanged check and a carried run compare,
 * and the path as a latin1 key. rank is the entry's place in the parent's path order, which only the
 * reader of the whole index knows (0 here).
 */
export interface ParentIndexEntry {
  readonly key: string;
  readonly type: number;
  readonly mode: number;
  readonly size: number;
  readonly mtimeSec: number;
  readonly mtimeNsec: number;
  readonly ctimeSec: number;
  readonly ctimeNsec: number;
  readonly inode: number;
  readonly uid: number;
  readonly gid: number;
  user: string;
  group: string;
  readonly device: number;
  readonly nlink: number;
  /** The parent's entry holds the inode flags read (EntryMeta.inode_flags_known). */
  readonly inodeFlagsKnown: boolean;
  /**
   * The parent's ACLs and the names recorded with them (common/acl-attributes.ts), as a server that
   * sends them does; undefined for an entry without (most), and for every entry from an older server.
   * Views of the message's bytes, not copies: the parent index keeps each distinct list once, copied.
   */
  aclXattrs: readonly Xattr[] | undefined;
  rank: number;
}

/**
 * Decodes buffer[start, end) as an EntryMeta, keeping only what ParentIndexEntry holds: one object
 * per entry and no copy of its path, where decodeEntryMeta made an EntryMeta (two arrays, a copied
 * path) that the index then copied again. The fields it keeps are read and checked as there; the
 * others are skipped as protobuf skips unknown ones.
 */
export function decodeParentIndexEntry(buffer: Buffer, start: number, end: number): ParentIndexEntry {
  const entry = {
    key: '', type: 0, mode: 0, size: 0, mtimeSec: 0, mtimeNsec: 0, ctimeSec: 0, ctimeNsec: 0, inode: 0, uid: 0, gid: 0,
    user: '', group: '', device: 0, nlink: 0, inodeFlagsKnown: false, aclXattrs: undefined as Xattr[] | undefined, rank: 0,
  };
  const reader = new MetaReader(buffer, start, end);
  while (!reader.isDone) {
    const tag = reader.tag();
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (wireType === 0 && readStatField(reader, field, entry)) continue;
    if (wireType === 0 && field === Field.inodeFlagsKnown) {
      entry.inodeFlagsKnown = reader.uint64('inode_flags_known') !== 0;
      continue;
    }
    if (wireType === LENGTH_DELIMITED) {
      switch (field) {
        case Field.path: entry.key = reader.latin1(); continue;
        case Field.user: entry.user = reader.string(); continue;
        case Field.group: entry.group = reader.string(); continue;
        case Field.xattrs: {
          // Only these are kept: a server that ignores unchanged_check_only sends every attribute.
          const xattr = readXattr(reader.nested(), true);
          if (isAclAttribute(xattr.name)) (entry.aclXattrs ??= []).push(xattr);
          continue;
        }
      }
    }
    reader.skip(wireType);
  }
  return entry;
}
