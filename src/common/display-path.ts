// Shows a byte path (any byte but NUL; not always UTF-8) as one unambiguous line of text:
// valid, printable UTF-8 as it is; a backslash as \\; every other byte as \xHH. Two different
// paths never display the same, and a name with a newline never breaks a listing in two.

function sequenceLength(bytes: Uint8Array, index: number): number {
  const first = bytes[index];
  let length: number;
  let minimum: number;
  if (first >= 0xc2 && first <= 0xdf) { length = 2; minimum = 0x80; }
  else if (first >= 0xe0 && first <= 0xef) { length = 3; minimum = 0x800; }
  else if (first >= 0xf0 && first <= 0xf4) { length = 4; minimum = 0x10000; }
  else return 0;
  if (index + length > bytes.length) return 0;
  let codePoint = first & (0xff >> (length + 1));
  for (let offset = 1; offset < length; offset++) {
    const byte = bytes[index + offset];
    if ((byte & 0xc0) !== 0x80) return 0;
    codePoint = codePoint * 64 + (byte & 0x3f);
  }
  // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not valid UTF-8.
  if (codePoint < minimum || (codePoint >= 0xd800 && codePoint <= 0xdfff) || codePoint > 0x10ffff) return 0;
  // C1 controls (U+0080 to U+009F) would move a terminal's cursor too.
  if (codePoint >= 0x80 && codePoint <= 0x9f) return 0;
  return length;
}

function hex(byte: number): string {
  return `\\x${byte.toString(16).padStart(2, '0')}`;
}

export function displayPath(path: Uint8Array): string {
  let text = '';
  let index = 0;
  while (index < path.length) {
    const byte = path[index];
    if (byte === 0x5c) {
      text += '\\\\';
      index++;
    } else if (byte >= 0x20 && byte < 0x7f) {
      text += String.fromCharCode(byte);
      index++;
    } else if (byte >= 0x80) {
      const length = sequenceLength(path, index);
      if (length === 0) {
        text += hex(byte);
        index++;
      } else {
        text += Buffer.from(path.subarray(index, index + length)).toString('utf8');
        index += length;
      }
    } else {
      text += hex(byte);
      index++;
    }
  }
  return text;
}

/** Whether displayPath shows the bytes exactly as their UTF-8 text (nothing escaped). */
export function isPlainPath(path: Uint8Array): boolean {
  return displayPath(path) === Buffer.from(path).toString('utf8') && !Buffer.from(path).includes(0x5c);
}
