// The logger of the offline commands (gc, check, retention, protect): what the store says while it opens
// and works (unknown packs kept, packs lost, aborted uploads) goes to stderr, one line each, so stdout
// keeps the command's own report, which scripts and tests read.
import { shown } from '../common/config/display';
import { LOG_MESSAGE_LENGTH, type Logger } from '../common/logger';

/** Lines read `cpsbackup-server: warning: …`, as the command's other warnings and its errors do; never a stack. */
export function offlineLogger(program: string, write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const log = (prefix: string) => (message: string): void => write(`${program}: ${prefix}${shown(message, LOG_MESSAGE_LENGTH)}\n`);
  return { info: log(''), warn: log('warning: '), error: log('error: ') };
}
