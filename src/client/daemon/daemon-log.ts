// The daemon's log: ISO-timestamped lines, info to stdout and warnings and errors to stderr,
// each also appended to node.conf's log_file when one is set.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { appendLogLine } from '../../common/log-target';
import { LOG_MESSAGE_LENGTH, type Logger } from '../../common/logger';
import { shown } from '../../common/config/display';

export interface LogSinks {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly now?: () => number;
}

const standardSinks: LogSinks = {
  out: (line) => process.stdout.write(line),
  err: (line) => process.stderr.write(line),
};

/**
 * Appends synchronously: a daemon logs a few lines per job, and a line written before a SIGKILL
 * must be in the file. A log file that cannot be written is reported on stderr once per line, and
 * never stops a backup. One record per line, as the server's log (common/logger.ts): a message quotes
 * the server's words and a dump's stderr, whose line feeds would otherwise start lines that read as
 * records of their own (a forged "info complete: backup 12 done").
 */
export function createDaemonLogger(logFile: string | undefined, sinks: LogSinks = standardSinks): Logger {
  if (logFile !== undefined) mkdirSync(dirname(logFile), { recursive: true });
  const now = sinks.now ?? Date.now;
  const log = (level: string, message: string, sink: (line: string) => void): void => {
    const line = `${new Date(now()).toISOString()} ${level} ${shown(message, LOG_MESSAGE_LENGTH)}\n`;
    sink(line);
    if (logFile === undefined) return;
    try {
      // Never blocks: a FIFO put in the log file's place is refused, not waited on.
      appendLogLine(logFile, line);
    } catch (error) {
      sinks.err(`${new Date(now()).toISOString()} error cannot write ${shown(logFile, LOG_MESSAGE_LENGTH)}: ${shown((error as Error).message, LOG_MESSAGE_LENGTH)}\n`);
    }
  };
  return {
    info: (message) => log('info', message, sinks.out),
    warn: (message) => log('warn', message, sinks.err),
    error: (message) => log('error', message, sinks.err),
  };
}
