// At most one event per client per interval, counting those held back in between: for what a client
// can make the server do in a loop (failure notifications, their log lines), so one cannot flood.
export class PerClientInterval {
  private readonly last = new Map<string, { at: number; heldBack: number }>();

  constructor(private readonly intervalMs: number) {}

  /** undefined when held back; otherwise how many were held back since the last one let through. */
  admit(clientName: string, now: number): number | undefined {
    const last = this.last.get(clientName);
    if (last !== undefined && now - last.at < this.intervalMs) {
      last.heldBack++;
      return undefined;
    }
    this.last.set(clientName, { at: now, heldBack: 0 });
    return last?.heldBack ?? 0;
  }

  /** The next event of this client is let through (a success ended the run of failures). */
  reset(clientName: string): void {
    this.last.delete(clientName);
  }
}
