// Logs refused connections without letting a peer flood the log: the first few refusals of a kind
// from an address are logged at once, further ones within the interval counted and summed up in one line.
//
// Anyone who can reach the port can complete a TLS handshake without a certificate (a scanner, a
// monitoring probe, a misconfigured node retrying in a loop); one warning per attempt let such a
// peer fill the server's disk with log lines. The count keeps the evidence without the volume.
import type { Logger } from '../../common/logger';

/** Repeats of one kind of refusal from one address are summed up at most this often. */
export const REFUSAL_SUMMARY_INTERVAL_MS = 60_000;
/** Refusals of one kind from one address logged one by one per interval (a client retrying a few times is seen whole). */
export const REFUSALS_LOGGED_PER_INTERVAL = 10;
/**
 * Lines per interval for all addresses together: a peer that changes its address (an IPv6 prefix
 * holds billions) must not get ten lines per address; beyond this, refusals are only counted.
 */
export const LINES_PER_INTERVAL = 100;
/** Kinds tracked at once; beyond this the oldest are dropped, their counts moved to the overall count. */
const MAX_TRACKED = 1000;
/** Distinct addresses an overall summary counts (beyond, it says "N+"). */
const MAX_ADDRESSES_COUNTED = 100_000;

interface Tracked {
  readonly address: string;
  readonly firstMessage: string;
  /** When this kind's interval began: its first refusal. */
  loggedAt: number;
  /** Logged one by one in this interval. */
  logged: number;
  /** Counted, not logged yet. */
  repeats: number;
  /** When the last counted one came: the span a summary line names. */
  lastAt: number;
}

export class RefusalLog {
  private readonly tracked = new Map<string, Tracked>();
  private readonly timer: NodeJS.Timeout;
  /** Lines written since windowStart, for LINES_PER_INTERVAL. */
  private linesInWindow = 0;
  private windowStart: number;
  /** Refusals only counted because the overall budget was spent (or their kind was dropped). */
  private overflow = 0;
  private readonly overflowAddresses = new Set<string>();
  private overflowLastAt = 0;

  constructor(private readonly logger: Logger, private readonly intervalMs = REFUSAL_SUMMARY_INTERVAL_MS, private readonly now: () => number = Date.now) {
    this.windowStart = now();
    // A quarter of the interval: a summary comes at most that late after its interval ended.
    this.timer = setInterval(() => this.summarize(false), Math.max(1, Math.floor(intervalMs / 4)));
    this.timer.unref();
  }

  /**
   * One refused connection. `kind` names it without the parts a repeat changes (the peer's port):
   * the reason, with the certificate's name and serial if it had one.
   */
  refused(address: string, kind: string, message: string): void {
    const now = this.now();
    if (now - this.windowStart >= this.intervalMs) this.summarizeOverflow(now);
    const key = `${address} ${kind}`;
    let seen = this.tracked.get(key);
    if (seen !== undefined && now - seen.loggedAt >= this.intervalMs) {
      this.flush(seen);
      this.tracked.delete(key);
      seen = undefined;
    }
    if (seen === undefined) {
      seen = { address, firstMessage: message, loggedAt: now, logged: 0, repeats: 0, lastAt: now };
      this.tracked.set(key, seen);
      if (this.tracked.size > MAX_TRACKED) this.dropOldest();
    }
    if (seen.logged >= REFUSALS_LOGGED_PER_INTERVAL) {
      seen.repeats++;
      seen.lastAt = now;
    } else if (this.linesInWindow >= LINES_PER_INTERVAL) {
      this.count(address, 1, now);
    } else {
      seen.logged++;
      this.write(message);
    }
  }

  /** Logs what was counted and not yet said; `all` at shutdown, else only what an ended interval holds. */
  summarize(all: boolean): void {
    const now = this.now();
    for (const [key, seen] of this.tracked) {
      if (!all && now - seen.loggedAt < this.intervalMs) continue;
      this.flush(seen);
      this.tracked.delete(key);
    }
    if (all || now - this.windowStart >= this.intervalMs) this.summarizeOverflow(now);
  }

  close(): void {
    clearInterval(this.timer);
    this.summarize(true);
  }

  private write(line: string): void {
    this.linesInWindow++;
    this.logger.warn(line);
  }

  private count(address: string, refusals: number, at: number): void {
    this.overflow += refusals;
    this.overflowLastAt = Math.max(this.overflowLastAt, at);
    if (this.overflowAddresses.size < MAX_ADDRESSES_COUNTED) this.overflowAddresses.add(address);
  }

  private dropOldest(): void {
    const [oldestKey, oldest] = this.tracked.entries().next().value as [string, Tracked];
    this.tracked.delete(oldestKey);
    if (oldest.repeats > 0) this.count(oldest.address, oldest.repeats, oldest.lastAt);
  }

  /** One line for a kind's repeats, if the overall budget allows it; else they join the overall count. */
  private flush(seen: Tracked): void {
    if (seen.repeats === 0) return;
    if (this.linesInWindow >= LINES_PER_INTERVAL) {
      this.count(seen.address, seen.repeats, seen.lastAt);
    } else {
      const seconds = Math.max(1, Math.ceil((seen.lastAt - seen.loggedAt) / 1000));
      this.write(`${seen.repeats} more refused connections like this one within ${seconds} s: ${seen.firstMessage}`);
    }
    seen.repeats = 0;
  }

  private summarizeOverflow(now: number): void {
    if (this.overflow > 0) {
      const seconds = Math.max(1, Math.ceil((this.overflowLastAt - this.windowStart) / 1000));
      const addresses = this.overflowAddresses.size;
      this.logger.warn(`${this.overflow} more refused connections from ${addresses}${addresses >= MAX_ADDRESSES_COUNTED ? '+' : ''} address${addresses === 1 ? '' : 'es'} within ${seconds} s, not logged one by one (at most ${LINES_PER_INTERVAL} lines per ${Math.round(this.intervalMs / 1000)} s)`);
    }
    this.overflow = 0;
    this.overflowLastAt = 0;
    this.overflowAddresses.clear();
    this.linesInWindow = 0;
    this.windowStart = now;
  }
}
