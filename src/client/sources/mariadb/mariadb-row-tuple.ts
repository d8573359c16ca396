// The tuple of a data.sql row line, `(1,'a\'b',NULL,X'00FF',-2.5e-7)`, is spliced into the load's
// INSERT as it is; in a receive another client wrote it. So it must be values only, exactly as
// mariadb-dump-script.ts has the server render them, or a tuple such as `(1); DROP DATABASE x; SELECT (1)`
// would run as SQL. Lexed by bytes under the load's session (backslash escapes on, utf8mb4: no
// multibyte character holds a quote or backslash byte).

const QUOTE = 0x27;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN = 0x28;
const CLOSE = 0x29;
const MINUS = 0x2d;
const DOT = 0x2e;
const UNDERSCORE = 0x5f;
/** What the dump writes after a backslash: QUOTE()'s \\ \' \0 \Z, and \n \r for line breaks. */
const ESCAPED = new Set([...'\\\'0Znr'].map((character) => character.charCodeAt(0)));

const isDigit = (byte: number): boolean => byte >= 0x30 && byte <= 0x39;
/** A charset name's letters: lower-case ASCII, digits, underscore. */
const isNameByte = (byte: number): boolean => isDigit(byte) || (byte >= 0x61 && byte <= 0x7a) || byte === UNDERSCORE;
const isHexDigit = (byte: number): boolean => isDigit(byte) || (byte >= 0x41 && byte <= 0x46);

/**
 * What is wrong with bytes[start, end) as a row tuple of `columns` values, or undefined. Values:
 * NULL, a number (-12, 3.25, 1.5e-300), X'hex' (binary), _charset X'hex' (text not in utf8mb4), or a '…'
 * string with the escapes above.
 */
export function rowTupleProblem(bytes: Buffer, start: number, end: number, columns: number): string | undefined {
  let at = start;
  if (bytes[at] !== OPEN) return 'the row does not start with (';
  at++;
  for (let value = 1; ; value++) {
    const next = valueEnd(bytes, at, end);
    if (next === undefined) return `value ${value} is not NULL, a number, X'hex' or a quoted string as a dump writes them`;
    at = next;
    if (bytes[at] === CLOSE) {
      if (value !== columns) return `the row has ${value} values for ${columns} columns`;
      return at + 1 === end ? undefined : 'text after the row\'s closing )';
    }
    if (bytes[at] !== COMMA) return `value ${value} is followed by neither , nor )`;
    at++;
  }
}

/** Where the value starting at `at` ends, or undefined when none starts there. */
function valueEnd(bytes: Buffer, at: number, end: number): number | undefined {
  const first = bytes[at];
  if (first === QUOTE) return stringEnd(bytes, at + 1, end);
  if (first === UNDERSCORE) {
    // `_sjis X'5C'`: a charset introducer, only before a hex literal (mariadb-dump-script.ts).
    let next = at + 1;
    while (next < end && isNameByte(bytes[next])) next++;
    return next > at + 1 && bytes[next] === 0x20 && bytes[next + 1] === 0x58 && bytes[next + 2] === QUOTE ? hexEnd(bytes, next + 1, end) : undefined;
  }
  if (first === 0x58 && bytes[at + 1] === QUOTE) return hexEnd(bytes, at, end);
  if (first === 0x4e && bytes[at + 1] === 0x55 && bytes[at + 2] === 0x4c && bytes[at + 3] === 0x4c) return at + 4;
  return numberEnd(bytes, at, end);
}

/** Past X'hex' starting at `at` (the X), or undefined. */
function hexEnd(bytes: Buffer, at: number, end: number): number | undefined {
  let next = at + 2;
  while (next < end && isHexDigit(bytes[next])) next++;
  return bytes[next] === QUOTE && (next - at) % 2 === 0 ? next + 1 : undefined;
}

function stringEnd(bytes: Buffer, at: number, end: number): number | undefined {
  for (let next = at; next < end; next++) {
    if (bytes[next] === QUOTE) return next + 1;
    if (bytes[next] === BACKSLASH) {
      if (!ESCAPED.has(bytes[next + 1])) return undefined;
      next++;
    }
  }
  return undefined;
}

/** -?digits(.digits)?(e[+-]?digits)?, as CAST(... AS CHAR) writes integers, decimals and doubles. */
function numberEnd(bytes: Buffer, at: number, end: number): number | undefined {
  let next: number | undefined = bytes[at] === MINUS ? at + 1 : at;
  next = digitsEnd(bytes, next, end);
  if (next === undefined) return undefined;
  if (bytes[next] === DOT) {
    next = digitsEnd(bytes, next + 1, end);
    if (next === undefined) return undefined;
  }
  if (bytes[next] === 0x65 || bytes[next] === 0x45) {
    next++;
    if (bytes[next] === 0x2b || bytes[next] === MINUS) next++;
    return digitsEnd(bytes, next, end);
  }
  return next;
}

/** Past one or more digits from `at`, or undefined when none is there. */
function digitsEnd(bytes: Buffer, at: number, end: number): number | undefined {
  let next = at;
  while (next < end && isDigit(bytes[next])) next++;
  return next > at ? next : undefined;
}
