// Runs server.conf's notify_script with one notification as JSON on stdin (burp's notify scripts).
// Never throws: a failing or hanging script is logged and killed, and backups carry on.
import { spawn } from 'node:child_process';
import type { Logger } from '../../common/logger';
import type { Notification } from './notification';

const SCRIPT_TIMEOUT_MS = 60_000;
const STDERR_TAIL_BYTES = 2048;

export function runNotifyScript(script: string, notification: Notification, logger: Logger, timeoutMs = SCRIPT_TIMEOUT_MS): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(script, [], {
      stdio: ['pipe', 'ignore', 'pipe'],
      // The same figures for scripts that would rather not parse JSON.
      env: {
        ...process.env,
        CPSBACKUP_OUTCOME: notification.outcome,
        CPSBACKUP_CLIENT: notification.client,
        CPSBACKUP_BACKUP_ID: notification.backupId === null ? '' : String(notification.backupId),
        CPSBACKUP_SUMMARY: notification.summary,
      },
    });
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
