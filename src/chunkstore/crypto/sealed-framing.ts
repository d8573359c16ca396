// Pack records sealed one by one (RecordSealer) for a store whose packs leave the server: what the
// bucket holds is ciphertext, and each record still opens alone from a Range GET of its own bytes.
import type { RecordFraming } from '../pack/record-framing';
import { RECORD_HEADER_SIZE } from '../pack/pack-format';
import { RecordSealer, SEALED_RECORD_OVERHEAD } from './record-seal';
import type { StoreKey } from './store-key';

export const SEALED_FRAMING_OVERHEAD = RECORD_HEADER_SIZE + SEALED_RECORD_OVERHEAD;

export class SealedFraming implements RecordFraming {
  readonly overhead = SEALED_FRAMING_OVERHEAD;
  /** The header is inside the ciphertext: only the whole record authenticates. */
  readonly isHeaderReadableAlone = false;
  private readonly sealer: RecordSealer;

  constructor(key: StoreKey, storeId: string) {
    this.sealer = new RecordSealer(key, storeId);
  }

  frame(packName: string, offset: number, header: Buffer, payload: Buffer): Buffer[] {
    return [this.sealer.seal(packName, offset, Buffer.concat([header, payload]))];
  }

  unframe(packName: string, offset: number, stored: Buffer): Buffer {
    return this.sealer.open(packName, offset, stored);
  }
}
