// Encodes an entry's list-valued fields (xattrs, sparse extents) for their BLOB columns.
// Varint-length framing: compact, byte-exact, and readable without knowing the attributes' names.
import type { Xattr } from './records';
import { CorruptError } from '../../common/errors';
import { varintLength, writeVarint } from '../../common/wire/varint';

class VarintReader {
  private offset = 0;
  constructor(private readonly buffer: Buffer, private readonly what: string) {}

  get isDone(): boolean {
    return this.offset >= this.buffer.length;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (this.offset >= this.buffer.length) throw new CorruptError(`${this.what}: record ends inside a number`);
      const byte = this.buffer[this.offset++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
  }

  bytes(): Buffer {
    const length = this.varint();
    if (length > this.buffer.length - this.offset) throw new CorruptError(`${this.what}: a field runs past its record`);
    const start = this.offset;
    this.offset += length;
    return Buffer.from(this.buffer.subarray(start, start + length));
  }
}

export function encodeXattrs(xattrs: readonly Xattr[]): Buffer | null {
  if (xattrs.length === 0) return null;
  const size = xattrs.reduce((sum, { name, value }) => sum + varintLength(name.length) + name.length + varintLength(value.length) + value.length, 0);
  const buffer = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const { name, value } of xattrs) {
    offset = writeVarint(buffer, offset, name.length);
    offset += name.copy(buffer, offset);
    offset = writeVarint(buffer, offset, value.length);
    offset += value.copy(buffer, offset);
  }
  return buffer;
}

export function decodeXattrs(blob: Buffer | null): Xattr[] {
  if (blob === null || blob.length === 0) return [];
  const reader = new VarintReader(blob, 'extended attributes');
  const xattrs: Xattr[] = [];
  while (!reader.isDone) xattrs.push({ name: reader.bytes(), value: reader.bytes() });
  return xattrs;
}

export function encodeExtents(extents: readonly number[]): Buffer | null {
  if (extents.length === 0) return null;
  const buffer = Buffer.allocUnsafe(extents.reduce((sum, value) => sum + varintLength(value), 0));
  let offset = 0;
  for (const value of extents) offset = writeVarint(buffer, offset, value);
  return buffer;
}

export function decodeExtents(blob: Buffer | null): number[] {
  if (blob === null || blob.length === 0) return [];
  const reader = new VarintReader(blob, 'sparse extents');
  const extents: number[] = [];
  while (!reader.isDone) extents.push(reader.varint());
  if (extents.length % 2 !== 0) throw new CorruptError('sparse extents: an offset without its length');
  return extents;
}

/**
 * Whether a list blob is framed as encodeXattrs (pairs) or encodeExtents (an even count of numbers)
 * writes it, read without building the list: the unchanged-file check asks it of every entry with
 * attributes, most of which it never decodes.
 */
export function isWellFramed(blob: Buffer, kind: 'xattrs' | 'extents'): boolean {
  let offset = 0;
  let fields = 0;
  while (offset < blob.length) {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (offset >= blob.length) return false;
      const byte = blob[offset++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) break;
      scale *= 128;
    }
    if (kind === 'xattrs') {
      if (value > blob.length - offset) return false;
      offset += value;
    }
    fields++;
  }
  return fields % 2 === 0;
}
