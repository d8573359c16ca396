// Seals one pack record with AES-256-GCM so it can be read alone by a Range GET: a random nonce per
// record, and associated data binding it to the store, the pack name and its offset there, so a record
// moved, swapped or copied from another store fails to open instead of decoding as something else.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CorruptError } from '../../common/errors';
import { KEY_ID_SIZE, WrongKeyError, type StoreKey } from './store-key';

const FORMAT_VERSION = 1;
const NONCE_SIZE = 12;
const TAG_SIZE = 16;
const HEADER_SIZE = 1 + KEY_ID_SIZE + NONCE_SIZE;

/** Bytes a sealed record adds to its plaintext: version, key id, nonce, tag. */
export const SEALED_RECORD_OVERHEAD = HEADER_SIZE + TAG_SIZE;

/**
 * Layout: version u8 | key id (8) | nonce (12) | ciphertext | tag (16).
 * Callers may rely on: open(seal(x)) === x at the same store, pack and offset; any other bytes,
 * place or store give CorruptError; a record sealed under another key gives WrongKeyError.
 */
export class RecordSealer {
  private readonly storeId: Buffer;

  constructor(private readonly key: StoreKey, storeId: string) {
    this.storeId = Buffer.from(storeId, 'utf8');
    if (this.storeId.length === 0 || this.storeId.length > 255) throw new RangeError('a store id is 1 to 255 bytes');
  }

  seal(packName: string, offset: number, plaintext: Buffer): Buffer {
    const sealed = Buffer.allocUnsafe(plaintext.length + SEALED_RECORD_OVERHEAD);
    sealed.writeUInt8(FORMAT_VERSION, 0);
    this.key.keyId.copy(sealed, 1);
    const nonce = randomBytes(NONCE_SIZE);
    nonce.copy(sealed, 1 + KEY_ID_SIZE);
    const cipher = createCipheriv('aes-256-gcm', this.key.recordKey(), nonce, { authTagLength: TAG_SIZE });
    cipher.setAAD(this.associatedData(packName, offset, FORMAT_VERSION));
    let written = HEADER_SIZE;
    written += cipher.update(plaintext).copy(sealed, written);
    written += cipher.final().copy(sealed, written);
    cipher.getAuthTag().copy(sealed, written);
    return sealed;
  }

  open(packName: string, offset: number, sealed: Buffer): Buffer {
    const where = `sealed record at offset ${offset} of pack ${packName}`;
    if (sealed.length < SEALED_RECORD_OVERHEAD) {
      throw new CorruptError(`${where} is ${sealed.length} bytes, shorter than its ${SEALED_RECORD_OVERHEAD}-byte envelope`);
    }
    const version = sealed.readUInt8(0);
    if (version !== FORMAT_VERSION) throw new CorruptError(`${where} has unknown format version ${version} (damaged, or written by a newer cpsbackup)`);
    const storedKeyId = sealed.subarray(1, 1 + KEY_ID_SIZE);
    const nonce = sealed.subarray(1 + KEY_ID_SIZE, HEADER_SIZE);
    const tag = sealed.subarray(sealed.length - TAG_SIZE);
    // Our own key id goes into the associated data, not the stored one: a damaged key id field then
    // fails (or passes) authentication like any other byte, and is never taken for a wrong key.
    const decipher = createDecipheriv('aes-256-gcm', this.key.recordKey(), nonce, { authTagLength: TAG_SIZE });
    decipher.setAAD(this.associatedData(packName, offset, version));
    decipher.setAuthTag(tag);
    const plaintext = decipher.update(sealed.subarray(HEADER_SIZE, sealed.length - TAG_SIZE));
    try {
      decipher.final();
    } catch {
      if (!this.key.hasKeyId(storedKeyId)) {
        throw new WrongKeyError(`${where} was sealed with key ${storedKeyId.toString('hex')}, not with ${this.key.source} (key ${this.key.keyIdHex})`);
      }
      throw new CorruptError(`${where} fails authentication: damaged, or not the record stored at this place of this store`);
    }
    if (!this.key.hasKeyId(storedKeyId)) throw new CorruptError(`${where} has a damaged key id`);
    return plaintext;
  }

  /** "cpsbackup/v1/record" | store id | pack name | offset | version | key id, lengths prefixed. */
  private associatedData(packName: string, offset: number, version: number): Buffer {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`bad record offset ${offset}`);
    const name = Buffer.from(packName, 'utf8');
    if (name.length > 255) throw new RangeError(`pack name "${packName}" is longer than 255 bytes`);
    const label = Buffer.from('cpsbackup/v1/record\0');
    const data = Buffer.alloc(label.length + 1 + this.storeId.length + 1 + name.length + 8 + 1 + KEY_ID_SIZE);
    let at = label.copy(data, 0);
    at = data.writeUInt8(this.storeId.length, at);
    at += this.storeId.copy(data, at);
    at = data.writeUInt8(name.length, at);
    at += name.copy(data, at);
    at = data.writeBigUInt64BE(BigInt(offset), at);
    at = data.writeUInt8(version, at);
    this.key.keyId.copy(data, at);
    return data;
  }
}
