// An --include value as the path a backup holds, in bytes: spelled as -s lists it ("\\" a backslash,
// "\xNN" a byte) or given as raw bytes, so a name that is not valid UTF-8 can be restored alone too.
import { InvalidArgumentError } from 'commander';
import { posix } from 'node:path';
import { escapeBytes, unescapeBytes } from '../common/escape-bytes';

const REPLACEMENT = '\ufffd';
const INCLUDE_EQUALS = Buffer.from('--include=');

/**
 * The bytes the shell passed for this value: Node replaced invalid UTF-8 with U+FFFD, and the raw
 * command line (raw-arguments.ts) still holds them. Refused when two arguments would fit.
 */
function rawBytesOf(value: string, rawArguments: readonly Buffer[] | undefined): Buffer {
  if (!value.includes(REPLACEMENT) || rawArguments === undefined) return Buffer.from(value);
  const candidates = new Map<string, Buffer>();
  for (const argument of rawArguments) {
    const bytes = argument.subarray(0, INCLUDE_EQUALS.length).equals(INCLUDE_EQUALS) && argument.toString('utf8') !== value
      ? argument.subarray(INCLUDE_EQUALS.length) : argument;
    if (bytes.toString('utf8') === value) candidates.set(bytes.toString('latin1'), bytes);
  }
  if (candidates.size > 1) {
    throw new InvalidArgumentError('two arguments hold different bytes that are not UTF-8 but read the same; spell the bytes as \\xNN, as -s lists the path.');
  }
  return candidates.values().next().value ?? Buffer.from(value);
}

/**
 * An --include path as the backup holds it: escapes decoded, absolute, without "//", "." or a trailing
 * "/" (shell completion adds one), ".." resolved lexically. Spelled otherwise it would match nothing.
 */
export function includePath(value: string, rawArguments?: readonly Buffer[]): Buffer {
  let bytes: Buffer;
  try {
    bytes = unescapeBytes(rawBytesOf(value, rawArguments));
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new InvalidArgumentError(`${error.message}.`);
  }
  if (bytes.includes(0)) throw new InvalidArgumentError('a path holds no NUL byte (\\x00).');
  if (bytes[0] !== 0x2f) throw new InvalidArgumentError(`give the absolute path as the backup holds it (e.g. /srv/app), got "${escapeBytes(bytes)}".`);
  // Latin1 maps each byte to one character and back: "/" and "." are found whatever the other bytes are.
  const normalized = posix.normalize(bytes.toString('latin1'));
  return Buffer.from(normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized, 'latin1');
}
