// A tiny timestamped logger passed to whoever needs one (no global instance).
// Lines go to stderr so stdout stays free for a command's own output.
import { shown } from './config/display';

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/**
 * A message is cut to this many characters: messages quote what clients send (an abort reason, a
 * path), and one message must not become megabytes of log. Far above any message the server makes.
 */
export const LOG_MESSAGE_LENGTH = 64 * 1024;

/**
 * One record per line, whatever the message holds: a client's text in a message (an abort reason with
 * a line feed) would otherwise start a line of its own, a forged record. A stack trace reads as one
 * line too, its line feeds as \x0a.
 */
export function createLogger(name: string, write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const log = (level: string, message: string): void => write(`${new Date().toISOString()} ${name} ${level} ${shown(message, LOG_MESSAGE_LENGTH)}\n`);
  return {
    info: (message) => log('info', message),
    warn: (message) => log('warn', message),
    error: (message) => log('error', message),
  };
}

export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
