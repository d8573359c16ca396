// JSON for a terminal: the CLI's --json shows names, hostnames and labels a client chose, and a raw
// C1 control or bidi override in them would reach the operator's terminal (JSON.stringify escapes only C0).
import { HIDDEN_CHARACTERS } from '../common/hidden-characters';

/**
 * JSON.stringify's text with every hidden character (hidden-characters.ts) written as \uNNNN: the
 * same JSON to a parser (jq reads the exact name back), nothing a terminal acts on. C0 controls are
 * escaped by JSON.stringify already inside strings; any left are the indentation's line feeds.
 */
export function printableJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(HIDDEN_CHARACTERS, (character) => {
    if (character.charCodeAt(0) < 0x20) return character;
    let escaped = '';
    // An astral character as JSON spells it: its two UTF-16 units.
    for (let unit = 0; unit < character.length; unit++) escaped += `\\u${character.charCodeAt(unit).toString(16).padStart(4, '0')}`;
    return escaped;
  });
}
