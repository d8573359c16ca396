// What a client's free text (an Abort's reason, a Commit's warnings) becomes before the server keeps,
// logs or notifies it: each line free of control characters, each text capped.
import { shown, shownLines } from '../common/config/display';

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
  const kept: string[] = [];
  let length = 0;
  for (const warning of warnings.slice(0, MAX_WARNINGS)) {
    const text = shown(warning, WARNING_LENGTH);
    length += text.length + 1;
    if (length > WARNINGS_LENGTH) break;
    kept.push(text);
  }
  const leftOut = warnings.length - kept.length;
  return leftOut > 0 ? [...kept, `... and ${leftOut} more warnings, not kept`] : kept;
}
