// Gathers items into the batches of a streamed answer, cut by count and by bytes: a gRPC message is
// capped at 4 MiB, and a batch cut by count alone outgrows it once its items are large.

export interface BatchLimits {
  /** A batch is sent once its items stand for this many... */
  readonly maxItems: number;
  /** ...or once they take this many bytes; the last item may take it past, so keep it well under the cap. */
  readonly maxBytes: number;
}

export class MessageBatcher<T> {
  private items: T[] = [];
  private bytes = 0;
  private count = 0;

  /** `send` must apply backpressure: add() and flush() wait for it. */
  constructor(private readonly limits: BatchLimits, private readonly send: (items: T[]) => Promise<void>) {}

  /**
   * `bytes`: what the item adds to the message (an estimate must not fall short); `count`: the items it
   * stands for (a carried run stands for many files).
   */
  async add(item: T, bytes: number, count = 1): Promise<void> {
    this.items.push(item);
    this.bytes += bytes;
    this.count += count;
    if (this.count >= this.limits.maxItems || this.bytes >= this.limits.maxBytes) await this.flush();
  }

  /** Items gathered and not sent yet. */
  get size(): number {
    return this.items.length;
  }

  /** Sends what is gathered, if anything. */
  async flush(): Promise<void> {
    if (this.items.length === 0) return;
    const items = this.items;
    this.items = [];
    this.bytes = 0;
    this.count = 0;
    await this.send(items);
  }
}
