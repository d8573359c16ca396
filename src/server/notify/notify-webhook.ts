// POSTs one notification as JSON to server.conf's notify_webhook.
// Never throws: an unreachable or failing endpoint is logged, and backups carry on.
import type { Logger } from '../../common/logger';
import type { Notification } from './notification';

const WEBHOOK_TIMEOUT_MS = 15_000;

export async function postWebhook(url: string, notification: Notification, logger: Logger, timeoutMs = WEBHOOK_TIMEOUT_MS): Promise<void> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'cpsbackup-server' },
      body: JSON.stringify(notification),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
    // Drain the body so the connection is released.
    await response.arrayBuffer().catch(() => undefined);
    if (!response.ok) logger.warn(`notify_webhook ${url} (${notification.outcome} ${notification.client}) answered HTTP ${response.status}`);
  } catch (error) {
    logger.warn(`notify_webhook ${url} (${notification.outcome} ${notification.client}) failed: ${(error as Error).message}`);
  }
}
