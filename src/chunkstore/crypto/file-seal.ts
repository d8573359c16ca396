// Streaming encryption of a whole file (catalog snapshots) in framed segments: memory stays at one
// segment, every segment is authenticated before any of its bytes go out, and a file cut short, cut
// between segments, reordered or extended fails (the last segment is flagged inside the tag).
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { CorruptError } from '../../common/errors';
import { KEY_ID_SIZE, WrongKeyError, type StoreKey } from './store-key';

const MAGIC = Buffer.from('CPSBKSEG');
const FORMAT_VERSION = 1;
const SALT_SIZE = 32;
/** magic (8) | version u8 | segment size log2 u8 | reserved u16 | key id (8) | salt (32) */
const HEADER_SIZE = MAGIC.length + 4 + KEY_ID_SIZE + SALT_SIZE;
/** flags u8 (1: last) | length u32, then `length` bytes of ciphertext and the 16-byte tag */
const FRAME_HEADER_SIZE = 5;
const TAG_SIZE = 16;
const LAST = 1;
export const DEFAULT_SEGMENT_LOG2 = 16;
const MAX_SEGMENT_LOG2 = 24;
const MIN_SEGMENT_LOG2 = 10;

/** What the file is: its key and every segment's tag depend on it, so a file cannot pose as another. */
export interface SealedFileContext {
  readonly storeId: string;
  /** The object's name (e.g. the snapshot blob's), so an old generation cannot pose as a newer one. */
  readonly name: string;
}

function contextBytes(context: SealedFileContext): Buffer {
  const storeId = Buffer.from(context.storeId, 'utf8');
  const name = Buffer.from(context.name, 'utf8');
  if (storeId.length > 255 || name.length > 255) throw new RangeError('store id and name are at most 255 bytes each');
  return Buffer.concat([Buffer.from([storeId.length]), storeId, Buffer.from([name.length]), name]);
}

function nonceOf(index: bigint): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(index, 4);
  return nonce;
}

function associatedData(header: Buffer, index: bigint, flags: number, length: number): Buffer {
  const frame = Buffer.alloc(8 + FRAME_HEADER_SIZE);
  frame.writeBigUInt64BE(index, 0);
  frame.writeUInt8(flags, 8);
  frame.writeUInt32BE(length, 9);
  return Buffer.concat([header, frame]);
}

/** Plaintext in, sealed file out. */
export class SealStream extends Transform {
  private readonly header: Buffer;
  private readonly fileKey: Buffer;
  private readonly segmentSize: number;
  private pending: Buffer[] = [];
  private pendingSize = 0;
  private index = 0n;

  constructor(key: StoreKey, context: SealedFileContext, segmentLog2 = DEFAULT_SEGMENT_LOG2) {
    super();
    if (segmentLog2 < MIN_SEGMENT_LOG2 || segmentLog2 > MAX_SEGMENT_LOG2) throw new RangeError(`segment size 2^${segmentLog2} out of range`);
    this.segmentSize = 2 ** segmentLog2;
    const salt = randomBytes(SALT_SIZE);
    this.header = Buffer.alloc(HEADER_SIZE);
    MAGIC.copy(this.header, 0);
    this.header.writeUInt8(FORMAT_VERSION, 8);
    this.header.writeUInt8(segmentLog2, 9);
    key.keyId.copy(this.header, 12);
    salt.copy(this.header, 12 + KEY_ID_SIZE);
    // A fresh key per file (from its random salt) lets frame nonces simply count.
    this.fileKey = key.fileKey(salt, contextBytes(context));
    this.push(this.header);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingSize += chunk.length;
    // A full segment goes out only once a byte beyond it exists: the last segment must carry the flag.
    while (this.pendingSize > this.segmentSize) this.pushFrame(this.takePending(this.segmentSize), 0);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.pushFrame(this.takePending(this.pendingSize), LAST);
    callback();
  }

  private takePending(size: number): Buffer {
    const all = Buffer.concat(this.pending, this.pendingSize);
    this.pending = size < all.length ? [all.subarray(size)] : [];
    this.pendingSize = all.length - size;
    return all.subarray(0, size);
  }

  private pushFrame(plaintext: Buffer, flags: number): void {
    const cipher = createCipheriv('aes-256-gcm', this.fileKey, nonceOf(this.index), { authTagLength: TAG_SIZE });
    cipher.setAAD(associatedData(this.header, this.index, flags, plaintext.length));
    const frameHeader = Buffer.alloc(FRAME_HEADER_SIZE);
    frameHeader.writeUInt8(flags, 0);
    frameHeader.writeUInt32BE(plaintext.length, 1);
    this.push(Buffer.concat([frameHeader, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]));
    this.index += 1n;
  }
}

/** Sealed file in, plaintext out; errors with CorruptError or WrongKeyError and emits nothing unauthenticated. */
export class OpenStream extends Transform {
  private buffered: Buffer = Buffer.alloc(0);
  private header: Buffer | undefined;
  private fileKey: Buffer | undefined;
  private storedKeyId: Buffer | undefined;
  private segmentSize = 0;
  private index = 0n;
  private isDone = false;

  constructor(private readonly key: StoreKey, private readonly context: SealedFileContext) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    try {
      this.consume();
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    if (this.header === undefined) return callback(new CorruptError(`sealed file ${this.context.name} is ${this.buffered.length} bytes, shorter than its header`));
    if (!this.isDone) {
      return callback(new CorruptError(`sealed file ${this.context.name} is truncated: it ends after ${this.index} segments without its last one`));
    }
    callback();
  }

  private consume(): void {
    if (this.header === undefined) {
      if (this.buffered.length < HEADER_SIZE) return;
      this.readHeader(this.buffered.subarray(0, HEADER_SIZE));
      this.buffered = this.buffered.subarray(HEADER_SIZE);
    }
    while (this.buffered.length > 0) {
      if (this.isDone) throw new CorruptError(`sealed file ${this.context.name} has bytes after its last segment`);
      if (this.buffered.length < FRAME_HEADER_SIZE) return;
      const flags = this.buffered.readUInt8(0);
      const length = this.buffered.readUInt32BE(1);
      if ((flags & ~LAST) !== 0 || length > this.segmentSize) {
        throw new CorruptError(`sealed file ${this.context.name}: segment ${this.index} has a damaged frame header`);
      }
      const frameSize = FRAME_HEADER_SIZE + length + TAG_SIZE;
      if (this.buffered.length < frameSize) return;
      this.push(this.openFrame(flags, length, this.buffered.subarray(FRAME_HEADER_SIZE, frameSize)));
      this.buffered = this.buffered.subarray(frameSize);
      this.isDone = flags === LAST;
      this.index += 1n;
    }
  }

  private readHeader(stored: Buffer): void {
    const name = this.context.name;
    if (!stored.subarray(0, MAGIC.length).equals(MAGIC)) throw new CorruptError(`${name} is not a sealed cpsbackup file (bad magic)`);
    const version = stored.readUInt8(8);
    if (version !== FORMAT_VERSION) throw new CorruptError(`sealed file ${name} has unknown format version ${version}`);
    const segmentLog2 = stored.readUInt8(9);
    if (segmentLog2 < MIN_SEGMENT_LOG2 || segmentLog2 > MAX_SEGMENT_LOG2 || stored.readUInt16BE(10) !== 0) {
      throw new CorruptError(`sealed file ${name} has a damaged header`);
    }
    this.segmentSize = 2 ** segmentLog2;
    this.storedKeyId = Buffer.from(stored.subarray(12, 12 + KEY_ID_SIZE));
    // As for records: our key id in the authenticated header, so a damaged key id field is corruption.
    this.header = Buffer.from(stored);
    this.key.keyId.copy(this.header, 12);
    this.fileKey = this.key.fileKey(stored.subarray(12 + KEY_ID_SIZE, HEADER_SIZE), contextBytes(this.context));
  }

  private openFrame(flags: number, length: number, body: Buffer): Buffer {
    const decipher = createDecipheriv('aes-256-gcm', this.fileKey as Buffer, nonceOf(this.index), { authTagLength: TAG_SIZE });
    decipher.setAAD(associatedData(this.header as Buffer, this.index, flags, length));
    decipher.setAuthTag(body.subarray(length));
    const plaintext = decipher.update(body.subarray(0, length));
    try {
      decipher.final();
    } catch {
      const storedKeyId = this.storedKeyId as Buffer;
      if (this.index === 0n && !this.key.hasKeyId(storedKeyId)) {
        throw new WrongKeyError(`sealed file ${this.context.name} was sealed with key ${storedKeyId.toString('hex')}, `
          + `not with ${this.key.source} (key ${this.key.keyIdHex})`);
      }
      throw new CorruptError(`sealed file ${this.context.name}: segment ${this.index} fails authentication (damaged, or not this store's ${this.context.name})`);
    }
    if (!this.key.hasKeyId(this.storedKeyId as Buffer)) throw new CorruptError(`sealed file ${this.context.name} has a damaged key id`);
    return plaintext;
  }
}
