// The store's secret: 32 random bytes from the key file, and the subkeys derived from it with HKDF
// (one per use, so a record key never doubles as a file key), plus a public key id naming it.
import { hkdfSync, timingSafeEqual } from 'node:crypto';
import { BackupError } from '../../common/errors';

export const KEY_SIZE = 32;
export const KEY_ID_SIZE = 8;

/** The wrong key file for this store: a clear error, never garbage and never "corruption". */
export class WrongKeyError extends BackupError {
  constructor(message: string) {
    super('AUTH', message);
  }
}

function derive(master: Buffer, label: string, size: number, salt: Buffer = Buffer.alloc(0), context: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.from(hkdfSync('sha256', master, salt, Buffer.concat([Buffer.from(`cpsbackup/v1/${label}\0`), context]), size));
}

export class StoreKey {
  readonly #recordKey: Buffer;
  readonly #fileKey: Buffer;
  /** Public: safe to store in the store's config and in every sealed object; reveals nothing of the key. */
  readonly keyId: Buffer;
  /** Where the key came from (the key file), for messages. */
  readonly source: string;

  constructor(master: Buffer, source: string) {
    if (master.length !== KEY_SIZE) throw new RangeError(`a store key is ${KEY_SIZE} bytes, got ${master.length}`);
    this.#recordKey = derive(master, 'pack-record', KEY_SIZE);
    this.#fileKey = derive(master, 'file', KEY_SIZE);
    this.keyId = derive(master, 'key-id', KEY_ID_SIZE);
    this.source = source;
  }

  /** Hex key id, as the store config records it. */
  get keyIdHex(): string {
    return this.keyId.toString('hex');
  }

  /** The AES-256-GCM key for pack records. Internal to this folder. */
  recordKey(): Buffer {
    return this.#recordKey;
  }

  /** A fresh key for one sealed file, from its random salt and what the file is (store id, name). */
  fileKey(salt: Buffer, context: Buffer): Buffer {
    // HKDF's info is capped at 1024 bytes; context is a store id and an object name, far below.
    return derive(this.#fileKey, 'file-key', KEY_SIZE, salt, context);
  }

  hasKeyId(keyId: Buffer): boolean {
    return keyId.length === KEY_ID_SIZE && timingSafeEqual(keyId, this.keyId);
  }

  toJSON(): { keyId: string; source: string } {
    return { keyId: this.keyIdHex, source: this.source };
  }
}

/**
 * Checks the key against the key id the store recorded when it was made, before anything is read:
 * the operator learns "wrong key file" at once instead of a failure per record.
 */
export function assertStoreKey(key: StoreKey, expectedKeyIdHex: string, store: string): void {
  if (key.keyIdHex !== expectedKeyIdHex) {
    throw new WrongKeyError(`${store} was encrypted with key ${expectedKeyIdHex}, but ${key.source} holds key ${key.keyIdHex}: `
      + 'wrong encryption_key_file (the right one is the file made by init-key for this store)');
  }
}
