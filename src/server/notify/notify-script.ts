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

/** After the script exits, how long its stderr may still drain before it is let go (a child it left behind may hold it open). */
const STDERR_DRAIN_MS = 250;

/**
 * Resolves when the script itself exits, not when its stderr closes: a script that backgrounds a
 * process (`mail … &`) leaves that process holding the pipe, and every later notification queued
 * behind it waited for ever. The script runs as its own process group, so a timeout kills what it
 * started too.
 */
export function runNotifyScript(script: string, notification: Notification, logger: Logger, timeoutMs = SCRIPT_TIMEOUT_MS): Promise<void> {
  const label = `notify_script ${script} (${notification.outcome} ${notification.client})`;
  return new Promise((resolve) => {
    let child: ChildProcessByStdio<Writable, null, Readable>;
    try {
      child = spawn(script, [], { stdio: ['pipe', 'ignore', 'pipe'], env: scriptEnvironment(notification), detached: true });
    } catch (error) {
      // spawn throws (not emits) for arguments it refuses: inside this executor that would reject the
      // promise, an unhandled rejection up the chain that ended the server.
      logger.warn(`${label} could not start: ${errorMessage(error)}`);
      resolve();
      return;
    }
    let stderr = '';
    child.stderr.on('data', (data: Buffer) => { stderr = (stderr + data.toString()).slice(-STDERR_TAIL_BYTES); });
    // A script that does not read its stdin gets EPIPE; that is its choice, not an error.
    child.stdin.on('error', () => undefined);
    child.stdin.end(`${JSON.stringify(notification)}\n`);
    let killedGroup: string | undefined;
    const timer = setTimeout(() => { killedGroup = killGroup(child.pid); }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      logger.warn(`${label} could not start: ${error.message}`);
      resolve();
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      let isDone = false;
      const finish = (): void => {
        if (isDone) return;
        isDone = true;
        clearTimeout(drain);
        // Stop reading: whatever the script left running may keep the pipe open; it is not waited for.
        child.stderr.destroy();
        const tail = stderr ? `: ${stderr.trim()}` : '';
        if (killedGroup !== undefined) logger.warn(`${label} still running after ${timeoutMs / 1000} s; ${killedGroup}${tail}`);
        else if (code !== 0) logger.warn(`${label} exited ${code ?? signal}${tail}`);
        resolve();
      };
      const drain = setTimeout(finish, STDERR_DRAIN_MS);
      child.stderr.once('close', finish);
    });
  });
}

/** Kills the script's whole process group; says what happened, for the log. */
function killGroup(pid: number | undefined): string {
  if (pid === undefined) return 'it had no process id to kill';
  try {
    process.kill(-pid, 'SIGKILL');
    return `killed its process group ${pid}`;
  } catch (error) {
    return `killing its process group ${pid} failed: ${errorMessage(error)}`;
  }
}
