// The one rule for which characters of a peer's text never reach a terminal, a log line or a listing
// as themselves: what ends, hides or reorders text. escapeBytes, escapeLineBreaking and the CLI's JSON
// all ask here, so a character missing from one of them cannot be missing from only one.

/**
 * Controls (C0, DEL, C1), format characters (bidi embeddings, overrides, isolates and marks, zero-width
 * spaces, the BOM, tags…) and the line and paragraph separators: Unicode's Cc, Cf, Zl and Zp. The
 * zero-width joiner and non-joiner stay: they spell words of Persian and Indic scripts and emoji, and
 * move nothing.
 */
const HIDDEN = /(?![\u200c\u200d])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/** Every hidden character of a text, for String.replace (whole code points, the `u` flag). */
export const HIDDEN_CHARACTERS = new RegExp(HIDDEN.source, 'gu');

export function isHiddenCodePoint(codePoint: number): boolean {
  // Printable ASCII, most of every name: no regular expression. Nor for the letters of most scripts
  // (Latin to Hebrew, CJK, kana, Hangul), where the rule has only the soft hyphen: a listing of names in
  // them took 60 % longer (hidden-characters.test.ts checks these ranges against the rule).
  if (codePoint >= 0x20 && codePoint < 0x7f) return false;
  if ((codePoint >= 0xa0 && codePoint < 0x600 && codePoint !== 0xad) || (codePoint >= 0x3000 && codePoint < 0xfe00)) return false;
  return HIDDEN.test(String.fromCodePoint(codePoint));
}
