// The --find pattern: a shell-style glob matched against a path as listings print it (escape-bytes.ts),
// compiled for V8's linear-time engine so no pattern from a client can stall the server.
import { InvalidPatternError } from '../../common/errors';
import { compileLinearRegex } from '../../common/linear-regex';

const MAX_PATTERN_LENGTH = 1024;

/**
 * `*` any characters but '/', `**` any characters ('/' too; before a '/' it also matches no folder), `?` one
 * character but '/', `[abc]` `[a-z]` `[!abc]` one character of a class (never '/'), `\c` the
 * character c itself. A pattern without '/' matches the last component of a path (as find -name);
 * with '/', the whole path from the root.
 */
export function compilePathGlob(pattern: string): RegExp {
  return compileLinearRegex(pathGlobSource(pattern), 'the --find pattern');
}

/** The regular expression a glob stands for; refuses an empty or overlong glob. */
export function pathGlobSource(pattern: string): string {
  if (pattern === '') throw new InvalidPatternError('--find needs a pattern, e.g. "*.conf" or "/etc/**/*.conf"');
  if (pattern.length > MAX_PATTERN_LENGTH) throw new InvalidPatternError(`the --find pattern is longer than ${MAX_PATTERN_LENGTH} characters`);
  const body = globToRegexSource(pattern);
  return pattern.includes('/') ? `^${body}$` : `^(?:.*/)?${body}$`;
}

function escapeForRegex(character: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(character) ? `\\${character}` : character;
}

function globToRegexSource(pattern: string): string {
  const characters = [...pattern];
  let source = '';
  for (let index = 0; index < characters.length; index++) {
    const character = characters[index];
    if (character === '\\') {
      index++;
      source += escapeForRegex(characters[index] ?? '\\');
    } else if (character === '*' && characters[index + 1] === '*') {
      index++;
      if (characters[index + 1] === '/') {
        index++;
        source += '(?:.*/)?';
      } else {
        source += '.*';
      }
    } else if (character === '*') {
      source += '[^/]*';
    } else if (character === '?') {
      source += '[^/]';
    } else if (character === '[') {
      const parsed = characterClass(characters, index);
      if (parsed === undefined) {
        source += '\\[';
      } else {
        source += parsed.source;
        index = parsed.end;
      }
    } else {
      source += escapeForRegex(character);
    }
  }
  return source;
}

/** `[...]` starting at `start`; undefined when it has no closing bracket (then '[' is itself). */
function characterClass(characters: readonly string[], start: number): { source: string; end: number } | undefined {
  let index = start + 1;
  const isNegated = characters[index] === '!' || characters[index] === '^';
  if (isNegated) index++;
  let members = '';
  // A ']' right after the opening (or after '!') is a member, as in the shell.
  for (let first = true; index < characters.length; index++, first = false) {
    const character = characters[index];
    if (character === ']' && !first) return { source: isNegated ? `[^/${members}]` : `[${members}]`, end: index };
    if (character === '-' && !first && characters[index + 1] !== ']') members += '-';
    else members += /[\\^\]\[-]/.test(character) ? `\\${character}` : character;
  }
  return undefined;
}
