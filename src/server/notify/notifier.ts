// Delivers notifications to the configured script and webhook, one after another in order,
// so a success is always seen before the anomaly it carries. idle() waits for deliveries.
import { errorMessage } from '../../common/errors';
import type { Logger } from '../../common/logger';
import type { Notification } from './notification';
import { runNotifyScript } from './notify-script';
import { postWebhook } from './notify-webhook';

export interface NotifierTargets {
  readonly script: string | undefined;
  readonly webhook: string | undefined;
  /** How long the script may run before its process group is killed; 60 s unless a test says otherwise. */
  readonly scriptTimeoutMs?: number;
  /** Deliveries waiting at most; MAX_PENDING unless a test says otherwise. */
  readonly maxPending?: number;
}

/** Past this many waiting deliveries (a slow script, a flood) new ones are dropped, counted, so memory stays bounded. */
export const MAX_PENDING = 1000;

export class Notifier {
  /** Never rejects: a rejection here was unhandled (nothing awaits send()), and Node ends the process on one. */
  private queue: Promise<void> = Promise.resolve();
  private pending = 0;
  private dropped = 0;

  constructor(private readonly targets: NotifierTargets, private readonly logger: Logger) {}

  get isConfigured(): boolean {
    return this.targets.script !== undefined || this.targets.webhook !== undefined;
  }

  send(notification: Notification): void {
    if (!this.isConfigured) return;
    const maxPending = this.targets.maxPending ?? MAX_PENDING;
    if (this.pending >= maxPending) {
      this.dropped++;
      // Counted, and logged the first time and every hundredth after, so the drops do not flood the log instead.
      if (this.dropped === 1 || this.dropped % 100 === 0) {
        this.logger.warn(`notify: ${this.pending} deliveries waiting; dropped "${notification.summary}" (${this.dropped} dropped since the server started)`);
      }
      return;
    }
    this.logger.info(`notify: ${notification.summary}`);
    this.pending++;
    this.queue = this.queue.then(async () => {
      try {
        await this.deliver(notification);
      } finally {
        this.pending--;
      }
    });
  }

  /** Notifications dropped because the queue was full, since the server started. */
  get droppedCount(): number {
    return this.dropped;
  }

  idle(): Promise<void> {
    return this.queue;
  }

  /** Both targets, each on its own: one that throws is logged, and neither the other nor later notifications wait on it. */
  private async deliver(notification: Notification): Promise<void> {
    const { script, webhook } = this.targets;
    await Promise.all([
      script === undefined ? undefined : this.attempt('notify_script', notification, () => runNotifyScript(script, notification, this.logger, this.targets.scriptTimeoutMs)),
      webhook === undefined ? undefined : this.attempt('notify_webhook', notification, () => postWebhook(webhook, notification, this.logger)),
    ]);
  }

  /** Each target logs its own failures; this catches what slips past them (a throw, a rejection), so none is ever unhandled. */
  private async attempt(target: string, notification: Notification, deliver: () => Promise<void>): Promise<void> {
    try {
      await deliver();
    } catch (error) {
      this.logger.error(`${target} (${notification.outcome} ${notification.client}) failed: ${errorMessage(error)}`);
    }
  }
}
