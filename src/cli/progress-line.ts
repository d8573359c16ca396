// A single self-rewriting progress line on a terminal (files, bytes, rate); silent when not a TTY.
import { formatBytes } from './format';

const REFRESH_MS = 250;

export class ProgressLine {
  private readonly startedAt = Date.now();
  private lastDrawn = 0;
  private isShown = false;

  constructor(private readonly isInteractive: boolean, private readonly write: (text: string) => void) {}

  update(text: string, bytes: number): void {
    if (!this.isInteractive) return;
    const now = Date.now();
    if (now - this.lastDrawn < REFRESH_MS) return;
    this.lastDrawn = now;
    const seconds = Math.max((now - this.startedAt) / 1000, 0.001);
    this.write(`\r\x1b[K${text}, ${formatBytes(bytes / seconds)}/s`);
    this.isShown = true;
  }

  clear(): void {
    if (this.isShown) this.write('\r\x1b[K');
    this.isShown = false;
  }
}
