// A token bucket on the client's upload (node.conf ratelimit): sending waits until the bytes are
// allowed, with up to one second of burst.

export class RateLimiter {
  private tokens: number;
  private last = Date.now();

  constructor(private readonly bytesPerSecond: number) {
    this.tokens = bytesPerSecond;
  }

  async take(bytes: number): Promise<void> {
    for (;;) {
      const now = Date.now();
      this.tokens = Math.min(this.bytesPerSecond, this.tokens + ((now - this.last) / 1000) * this.bytesPerSecond);
      this.last = now;
      // A message bigger than a second's worth goes once the bucket is full, or it would never go.
      if (this.tokens >= bytes || this.tokens >= this.bytesPerSecond) {
        this.tokens -= bytes;
        return;
      }
      const wait = Math.ceil(((Math.min(bytes, this.bytesPerSecond) - this.tokens) / this.bytesPerSecond) * 1000);
      await new Promise((resolve) => setTimeout(resolve, Math.max(wait, 1)));
    }
  }
}
