// A tiny timestamped logger passed to whoever needs one (no global instance).
// Lines go to stderr so stdout stays free for a command's own output.

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export function createLogger(name: string, write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const log = (level: string, message: string): void => write(`${new Date().toISOString()} ${name} ${level} ${message}\n`);
  return {
    info: (message) => log('info', message),
    warn: (message) => log('warn', message),
    error: (message) => log('error', message),
  };
}

export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
