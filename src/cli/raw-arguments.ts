// The command line as bytes: Node decodes argv as UTF-8 and turns invalid bytes into U+FFFD, so a name
// given as raw bytes (--include "$(printf '/x/\377')") is lost there; Linux keeps it in /proc/self/cmdline.
import { readFileSync } from 'node:fs';

/**
 * process.argv's arguments (those after the script) as the bytes the shell passed, or undefined where
 * they cannot be known for sure (no /proc, or the command line no longer reads as process.argv does).
 */
export function rawArguments(argv: readonly string[] = process.argv): Buffer[] | undefined {
  let commandLine: Buffer;
  try {
    commandLine = readFileSync('/proc/self/cmdline');
  } catch {
    return undefined;
  }
  const parts: Buffer[] = [];
  for (let start = 0; start < commandLine.length; ) {
    const end = commandLine.indexOf(0, start);
    parts.push(commandLine.subarray(start, end < 0 ? commandLine.length : end));
    start = end < 0 ? commandLine.length : end + 1;
  }
  const count = argv.length - 2;
  if (count < 0 || parts.length < count) return undefined;
  const raw = parts.slice(parts.length - count);
  return raw.every((bytes, index) => bytes.toString('utf8') === argv[index + 2]) ? raw : undefined;
}
