// Runs server.conf's notify_script with one notification as JSON on stdin (burp's notify scripts).
// Never throws nor rejects: a script that cannot start, fails or hangs is logged (and killed), and backups carry on.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { shown } from '../../common/config/display';
import { errorMessage } from '../../common/errors';
import type { Logger } from '../../common/logger';
import type { Notification } from './notification';

const SCRIPT_TIMEOUT_MS = 60_000;
const STDERR_TAIL_BYTES = 2048;
/** An environment variable's value is cut to this many characters (the summary is shorter already). */
export const ENVIRONMENT_VALUE_LENGTH = 2048;

/**
 * The same figures for scripts that would rather not parse JSON. Each value one line with no NUL
 * (spawn refuses one, and a client's text reaches the summary), whatever the notification holds.
 */
function scriptEnvironment(notification: Notification): NodeJS.ProcessEnv {
  const value = (text: string): string => shown(text, ENVIRONMENT_VALUE_LENGTH);
  return {
    ...process.env,
    CPSBACKUP_OUTCOME: value(notification.outcome),
    CPSBACKUP_CLIENT: value(notification.client),
    CPSBACKUP_BACKUP_ID: notification.backupId === null ? '' : String(notification.backupId),
    CPSBACKUP_SUMMARY: value(notification.summary),
  };
}

export function runNotifyScript(script: string, notification: Notification, logger: Logger, timeoutMs = SCRIPT_TIMEOUT_MS): Promise<void> {
  return new Promise((resolve) => {
    let child: ChildProcessByStdio<Writable, null, Readable>;
    try {
      child = spawn(script, [], { stdio: ['pipe', 'ignore', 'pipe'], env: scriptEnvironment(notification) });
    } catch (error) {
      // spawn throws (not emits) for arguments it refuses: inside this executor that would reject the
      // promise, an unhandled rejection up the chain that ended the server.
      logger.warn(`notify_script ${script} (${notification.outcome} ${notification.client}) could not start: ${errorMessage(error)}`);
      resolve();
      return;
    }
    let stderr = '';
    child.stderr.on('data', (data: Buffer) => { stderr = (stderr + data.toString()).slice(-STDERR_TAIL_BYTES); });
    // A script that does not read its stdin gets EPIPE; that is its choice, not an error.
    child.stdin.on('error', () => undefined);
    child.stdin.end(`${JSON.stringify(notification)}\n`);
    const timer = setTimeout(() => {
      logger.warn(`notify_script ${script} (${notification.outcome} ${notification.client}) still running after ${timeoutMs / 1000} s; killed`);
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      logger.warn(`notify_script ${script} could not start: ${error.message}`);
      resolve();
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        logger.warn(`notify_script ${script} (${notification.outcome} ${notification.client}) exited ${code ?? signal}${stderr ? `: ${stderr.trim()}` : ''}`);
      }
      resolve();
    });
  });
}
