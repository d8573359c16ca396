// How a record (header and payload) lies in its pack: as it is (a local store), or sealed one record at a
// time (an encrypted store), so a Range GET of one record is enough to open it. Offsets in the catalog are
// always where the record's bytes start in the stored pack; a record takes `overhead` bytes beyond its payload.
import { RECORD_HEADER_SIZE } from './pack-format';

/**
 * Callers may rely on: unframe(name, offset, frame(name, offset, h, p)) is h|p; a record read from another
 * place, pack or store fails (CorruptError, or WrongKeyError for another key); the framed size is always
 * overhead + payload length.
 */
export interface RecordFraming {
  /** Bytes a record takes in its pack beyond its payload (its header included). */
  readonly overhead: number;
  /** The header can be read and trusted without the payload (check's header-only pass). */
  readonly isHeaderReadableAlone: boolean;
  /** What goes into the pack at `offset`. */
  frame(packName: string, offset: number, header: Buffer, payload: Buffer): Buffer[];
  /** The record's header and payload from its bytes as stored at `offset`. */
  unframe(packName: string, offset: number, stored: Buffer): Buffer;
}

export const PLAIN_FRAMING: RecordFraming = Object.freeze({
  overhead: RECORD_HEADER_SIZE,
  isHeaderReadableAlone: true,
  frame: (_packName: string, _offset: number, header: Buffer, payload: Buffer) => [header, payload],
  unframe: (_packName: string, _offset: number, stored: Buffer) => stored,
});
