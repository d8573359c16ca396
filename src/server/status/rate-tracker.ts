// Live transfer rate of running uploads: samples each one's byte count once a second and
// reports bytes per second over the last few seconds (the average since start until then).
import type { Activity } from '../activity';

const SAMPLE_INTERVAL_MS = 1000;
const WINDOW_MS = 10_000;

interface Sample {
  readonly at: number;
  readonly bytes: number;
}

export class RateTracker {
  private readonly samples = new Map<string, Sample[]>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly activity: Activity) {}

  start(): void {
    this.timer ??= setInterval(() => this.sample(Date.now()), SAMPLE_INTERVAL_MS);
    // The sampler alone must never keep a stopping server alive.
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.samples.clear();
  }

  sample(now: number): void {
    const running = new Set<string>();
    for (const upload of this.activity.runningUploads()) {
      const key = `${upload.clientName}#${upload.startedAt}`;
      running.add(key);
      const samples = this.samples.get(key) ?? [];
      samples.push({ at: now, bytes: upload.bytes });
      while (samples.length > 2 && now - samples[0].at > WINDOW_MS) samples.shift();
      this.samples.set(key, samples);
    }
    for (const key of this.samples.keys()) if (!running.has(key)) this.samples.delete(key);
  }

  /** Bytes per second of the client's running upload, or 0 if none runs. */
  rateOf(clientName: string, now: number): number {
    const upload = this.activity.progress(clientName);
    if (upload === undefined) return 0;
    const samples = this.samples.get(`${clientName}#${upload.startedAt}`) ?? [];
    const oldest = samples[0];
    if (oldest !== undefined && now - oldest.at >= SAMPLE_INTERVAL_MS) {
      return Math.max(0, (upload.bytes - oldest.bytes) / ((now - oldest.at) / 1000));
    }
    const elapsedSeconds = (now - upload.startedAt) / 1000;
    return elapsedSeconds > 0 ? upload.bytes / elapsedSeconds : 0;
  }
}
