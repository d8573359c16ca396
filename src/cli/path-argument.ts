// A file or folder of this machine named on the command line (-c, --to, --dir, --cert). Node decodes
// argv as UTF-8 and turns bytes that are not UTF-8 into U+FFFD: the path it hands on names another
// file or folder, or none. A restore --to "$(printf '/srv/\377')" restored into "/srv/\357\277\275",
// merging into whatever lived there, with exit 0 (found by review). Such a path is refused, as a
// configuration file refuses one (config/parse.ts); --include alone takes bytes (include-path.ts),
// as it names a path of the backup, spelled as -s lists it.
import { InvalidArgumentError } from 'commander';

const REPLACEMENT = '\ufffd';
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function isUtf8(bytes: Buffer): boolean {
  try {
    strictUtf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether this value may have come from bytes that are not UTF-8: some argument the shell passed is not
 * UTF-8 and reads, decoded as Node decodes it, as this value or as an option glued to it (--to=VALUE,
 * -cVALUE). Unknown arguments (no /proc) count as such: a U+FFFD typed on purpose is rarer than a name
 * in Latin-1.
 */
function mayBeLossy(value: string, rawArguments: readonly Buffer[] | undefined): boolean {
  if (!value.includes(REPLACEMENT)) return false;
  if (rawArguments === undefined) return true;
  return rawArguments.some((argument) => !isUtf8(argument) && argument.toString('utf8').endsWith(value));
}

/** A commander parser for an option naming a local path: the value as given, refused when not UTF-8. */
export function pathArgument(rawArguments: () => readonly Buffer[] | undefined): (value: string) => string {
  return (value) => {
    if (mayBeLossy(value, rawArguments())) {
      throw new InvalidArgumentError(`the path "${value}" is not UTF-8 (shown with U+FFFD where its bytes are not): `
        + 'name it through a path that is (a symlink to it, or its parent folder), or rename it.');
    }
    return value;
  };
}
