// Delivers notifications to the configured script and webhook, one after another in order,
// so a success is always seen before the anomaly it carries. idle() waits for deliveries.
import type { Logger } from '../../common/logger';
import type { Notification } from './notification';
import { runNotifyScript } from './notify-script';
import { postWebhook } from './notify-webhook';

export interface NotifierTargets {
  readonly script: string | undefined;
  readonly webhook: string | undefined;
}

export class Notifier {
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly targets: NotifierTargets, private readonly logger: Logger) {}

  get isConfigured(): boolean {
    return this.targets.script !== undefined || this.targets.webhook !== undefined;
  }

  send(notification: Notification): void {
    if (!this.isConfigured) return;
    this.logger.info(`notify: ${notification.summary}`);
    this.queue = this.queue.then(() => this.deliver(notification));
  }

  idle(): Promise<void> {
    return this.queue;
  }

  private async deliver(notification: Notification): Promise<void> {
    const { script, webhook } = this.targets;
    await Promise.all([
      script === undefined ? undefined : runNotifyScript(script, notification, this.logger),
      webhook === undefined ? undefined : postWebhook(webhook, notification, this.logger),
    ]);
  }
}
