// What a client's free text (an Abort's reason, a Commit's warnings) becomes before the server keeps,
// logs or notifies it: each line free of control characters, each text capped.
import { LONGEST_ESCAPE, shown, shownLines } from '../common/config/display';
import { HIDDEN_CHARACTERS } from '../common/hidden-characters';

/**
 * An abort reason is cut to this many characters: room for a dump's message and its 2 KiB stderr
 * tail, not for a client's megabytes in the log, the status page and every notification.
 */
export const ABORT_REASON_LENGTH = 4096;
/** A warning names a file (up to 4 KiB of path, escaped) and why it was left out. */
export const WARNING_LENGTH = 8192;
/** A failure's reason as notifications and the status port show it (the abort reason and the server's words around it). */
export const FAILURE_REASON_LENGTH = 16 * 1024;
/** Warnings kept per backup; our client sends 100 at most, and the count of unreadable files apart. */
export const MAX_WARNINGS = 1000;
/**
 * Characters of all the warnings kept, escaped: 1000 of 8 KiB are 8 MiB, 48 once escaped, and the warnings
 * travel in every List and Show of the backup (one message of at most 4 MiB). Our client's 100 take ~10 KiB.
 */
export const WARNINGS_LENGTH = 256 * 1024;

/**
 * The reason keeps its line feeds (a dump's stderr follows its exit on the next line); every other
 * control character is escaped, so it cannot end a log record or carry a NUL into a script's
 * environment. shown(), not escapeBytes: the client has escaped the paths it quotes already.
 */
export function receivedAbortReason(reason: string): string {
  return shownLines(reason, ABORT_REASON_LENGTH);
}

/**
 * Warnings are kept joined by line feeds (status/backup-figures.ts splits them): each is one line, so
 * a line feed in one cannot make two, and those past MAX_WARNINGS or WARNINGS_LENGTH are counted in a last one.
 */
export function receivedWarnings(warnings: readonly string[]): string[] {
  return keptWarnings(warnings, (warning) => shown(warning, WARNING_LENGTH), 0);
}

/** The last line receivedWarnings adds when it leaves warnings out. */
const LEFT_OUT = /^\.\.\. and (\d+) more warnings, not kept$/;

/**
 * A catalog row's warnings (joined by line feeds) as List and Show send them: a row kept by an older
 * server holds whatever a client sent, at any length, and every List carries it; cut here as new ones
 * are on receipt, with what is left out counted in the last line. A row kept under these rules is
 * shown as kept: each of its lines is within WARNING_LENGTH once escaped, and its count line is read back.
 */
export function shownWarnings(stored: string): string {
  const lines = stored.split('\n');
  const counted = LEFT_OUT.exec(lines.at(-1) ?? '');
  const warnings = counted === null ? lines : lines.slice(0, -1);
  // A line with a character to escape was never kept under these rules: cut as on receipt. One without
  // may be one kept, escaped already (up to LONGEST_ESCAPE characters for each of WARNING_LENGTH).
  const show = (line: string): string => shown(line, line.search(HIDDEN_CHARACTERS) === -1 ? WARNING_LENGTH * LONGEST_ESCAPE + 1 : WARNING_LENGTH);
  return keptWarnings(warnings, show, counted === null ? 0 : Number(counted[1])).join('\n');
}

/** At most MAX_WARNINGS, each as `show` makes it, WARNINGS_LENGTH in all; then a line counting the rest and `leftOutBefore`. */
function keptWarnings(warnings: readonly string[], show: (warning: string) => string, leftOutBefore: number): string[] {
  const kept: string[] = [];
  let length = 0;
  for (const warning of warnings.slice(0, MAX_WARNINGS)) {
    const text = show(warning);
    length += text.length + 1;
    if (length > WARNINGS_LENGTH) break;
    kept.push(text);
  }
  const leftOut = warnings.length - kept.length + leftOutBefore;
  return leftOut > 0 ? [...kept, `... and ${leftOut} more warnings, not kept`] : kept;
}
