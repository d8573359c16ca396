// Shows a name given as bytes so that every name reads one way only: valid UTF-8 text stays readable,
// while invalid bytes, hidden characters (hidden-characters.ts) and the backslash itself become escapes.
import { isHiddenCodePoint } from './hidden-characters';

/** Length of the valid UTF-8 sequence starting at index (1 to 4), or 0 when the byte there starts none. */
function utf8SequenceLength(bytes: Uint8Array, index: number): number {
  const first = bytes[index];
  const continuation = (at: number): boolean => at < bytes.length && (bytes[at] & 0xc0) === 0x80;
  if (first < 0x80) return 1;
  if (first >= 0xc2 && first <= 0xdf) return continuation(index + 1) ? 2 : 0;
  if (first >= 0xe0 && first <= 0xef) {
    const second = bytes[index + 1];
    if (!continuation(index + 1) || !continuation(index + 2)) return 0;
    if (first === 0xe0 && second < 0xa0) return 0; // overlong
    if (first === 0xed && second >= 0xa0) return 0; // UTF-16 surrogates
    return 3;
  }
  if (first >= 0xf0 && first <= 0xf4) {
    const second = bytes[index + 1];
    if (!continuation(index + 1) || !continuation(index + 2) || !continuation(index + 3)) return 0;
    if (first === 0xf0 && second < 0x90) return 0; // overlong
    if (first === 0xf4 && second >= 0x90) return 0; // above U+10FFFF
    return 4;
  }
  return 0;
}

/** Where the run of printable ASCII bytes other than the backslash that starts at index ends. */
function printableRunEnd(bytes: Uint8Array, index: number): number {
  let end = index;
  while (end < bytes.length && bytes[end] >= 0x20 && bytes[end] < 0x7f && bytes[end] !== 0x5c) end++;
  return end;
}

const hex = (byte: number): string => `\\x${byte.toString(16).padStart(2, '0')}`;

/**
 * Escapes bytes for messages and listings: "\\" for a backslash, "\xNN" for every byte of an invalid
 * sequence or of a hidden character; everything else is the UTF-8 text itself. Injective: two
 * different byte strings never give the same text.
 */
export function escapeBytes(bytes: Uint8Array): string {
  let text = '';
  for (let index = 0; index < bytes.length; ) {
    // A run of printable ASCII but the backslash (never hidden, never escaped) taken whole: a Buffer and a
    // decode per character cost ~100 ns a byte, 14 s of a listing of 8,000 entries 8,000 folders deep.
    const plainEnd = printableRunEnd(bytes, index);
    if (plainEnd > index) {
      text += Buffer.from(bytes.buffer, bytes.byteOffset + index, plainEnd - index).toString('latin1');
      index = plainEnd;
      continue;
    }
    const length = utf8SequenceLength(bytes, index);
    if (length === 0) {
      text += hex(bytes[index]);
      index += 1;
      continue;
    }
    const sequence = bytes.subarray(index, index + length);
    const character = Buffer.from(sequence).toString('utf8');
    const codePoint = character.codePointAt(0) ?? 0;
    if (codePoint === 0x5c) text += '\\\\';
    else if (isHiddenCodePoint(codePoint)) for (const byte of sequence) text += hex(byte);
    else text += character;
    index += length;
  }
  return text;
}

const BACKSLASH = 0x5c;

function hexDigit(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/**
 * The inverse of escapeBytes: "\\" is a backslash, "\xNN" (two hex digits) the byte NN, any other byte
 * stands for itself (so raw invalid UTF-8 passes through). Throws a RangeError naming the first
 * malformed escape ("\q", "\x4", a trailing "\"): guessing one would name another path.
 */
export function unescapeBytes(text: string | Uint8Array): Buffer {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  const out = Buffer.allocUnsafe(bytes.length);
  let length = 0;
  for (let index = 0; index < bytes.length; index++) {
    if (bytes[index] !== BACKSLASH) {
      out[length++] = bytes[index];
      continue;
    }
    const next = bytes[index + 1];
    if (next === BACKSLASH) {
      out[length++] = BACKSLASH;
      index += 1;
      continue;
    }
    const high = hexDigit(bytes[index + 2]);
    const low = hexDigit(bytes[index + 3]);
    if (next !== 0x78 || high < 0 || low < 0) {
      const escape = Buffer.from(bytes.subarray(index, Math.min(bytes.length, index + (next === 0x78 ? 4 : 2))));
      throw new RangeError(`"${escapeBytes(escape).replace(/^\\\\/, '\\')}" at byte ${index} is not an escape: write a backslash as "\\\\" and a byte as "\\xNN" (two hex digits), as -s lists names`);
    }
    out[length++] = high * 16 + low;
    index += 3;
  }
  return out.subarray(0, length);
}
