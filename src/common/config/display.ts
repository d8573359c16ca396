// How a configuration value or path appears inside an error message: on one line, and short.
// A 64 KiB include or a value holding an escape sequence must not flood or repaint a terminal.

/** Values are cut to this many characters; paths get more, since their end names the file. */
export const SHOWN_VALUE_LENGTH = 80;
export const SHOWN_PATH_LENGTH = 240;

/** Control characters as \xNN (so the message stays one line), then the first `limit` characters and "…". */
export function shown(value: string, limit = SHOWN_VALUE_LENGTH): string {
  const cut = [...value.slice(0, limit * 2)].slice(0, limit).join('');
  const isCut = cut.length < value.length;
  const escaped = cut.replace(/[\x00-\x1f\x7f-\x9f]/g, (character) => `\\x${character.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return isCut ? `${escaped}…` : escaped;
}

export function shownPath(file: string): string {
  return shown(file, SHOWN_PATH_LENGTH);
}
