// How a configuration value, a path or a peer's text appears inside a message or a log line: on one
// line, and short. A 64 KiB include or a value holding an escape sequence must not flood or repaint a
// terminal, and a client's text must not start a log line of its own.
import { HIDDEN_CHARACTERS } from '../hidden-characters';

/** Values are cut to this many characters; paths get more, since their end names the file. */
export const SHOWN_VALUE_LENGTH = 80;
export const SHOWN_PATH_LENGTH = 240;

/** The longest escape escapeLineBreaking writes for one character: `\u{e007f}`. */
export const LONGEST_ESCAPE = 9;

/**
 * Every character that ends, hides or reorders a line somewhere (hidden-characters.ts: NUL, line feed,
 * escape, C1, bidi controls, line separators…) as \xNN, \uNNNN or \u{NNNNN}, nothing cut: for text
 * bounded elsewhere.
 */
export function escapeLineBreaking(text: string): string {
  return text.replace(HIDDEN_CHARACTERS, (character) => {
    const code = character.codePointAt(0)!;
    if (code < 0x100) return `\\x${code.toString(16).padStart(2, '0')}`;
    return code < 0x10000 ? `\\u${code.toString(16).padStart(4, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

/** The first `limit` characters (code points, not UTF-16 units), and whether anything was left off. */
function cut(value: string, limit: number): { readonly text: string; readonly isCut: boolean } {
  const text = [...value.slice(0, limit * 2)].slice(0, limit).join('');
  return { text, isCut: text.length < value.length };
}

/** Control characters as \xNN (so the message stays one line), then the first `limit` characters and "…". */
export function shown(value: string, limit = SHOWN_VALUE_LENGTH): string {
  // No more UTF-16 units than the limit: no more code points either, and nothing to cut. Most texts;
  // a List shows every label of every backup through here.
  if (value.length <= limit) return escapeLineBreaking(value);
  const { text, isCut } = cut(value, limit);
  const escaped = escapeLineBreaking(text);
  return isCut ? `${escaped}…` : escaped;
}

/**
 * A text of several lines from a peer (a failure reason ending with a command's stderr): each line as
 * shown() makes it, the line feeds kept, the whole cut to `limit` characters. For fields that are
 * documented as several lines (a notification's `reason`); a log line takes shown() of the whole.
 */
export function shownLines(value: string, limit: number): string {
  const { text, isCut } = cut(value, limit);
  const escaped = text.split('\n').map(escapeLineBreaking).join('\n');
  return isCut ? `${escaped}…` : escaped;
}

export function shownPath(file: string): string {
  return shown(file, SHOWN_PATH_LENGTH);
}
