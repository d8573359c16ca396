// One server writes to a bucket at a time. Two (a `recover` drill on a second machine beside the
// live server, or two servers given the same s3_prefix) would each take the other's newest packs
// for orphans and delete them, collect chunks the other has since referenced again, and prune each
// other's catalog snapshots. So a store that opens a bucket holds a lease there, as restic holds
// lock files: a small blob renewed every few minutes. A store that finds another owner's lease
// renewed within the stale period refuses to open. Ages are measured by the bucket's own clock (the
// blobs' modification times, against the lease just written), so the machines' clocks need not agree.
//
// The holder never yields to a lease that merely appears (a second server writes one before it looks,
// and removes it when refused): it counts the bucket lost only when its own lease is gone, which only
// a server that found it stale, or `break-lease`, does. And it writes nothing once it could not renew
// for half the stale period, since by the end of it another server may take the bucket.
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { PackBackend } from '../backend/pack-backend';
import { describeHolder, leaseName, listLeases, writeLease, type LeaseHolder, type ListedLease } from './lease-blobs';
import type { BlobSeal } from '../json-blob';
import { leaseOwnerOf } from './lease-owner';
import { BusyError, errorMessage } from '../../common/errors';
import type { Logger } from '../../common/logger';

export const LEASE_RENEW_MS = 5 * 60_000;
/** Six missed renewals: a server cut off from the bucket that long cannot have written to it either. */
export const LEASE_STALE_MS = 30 * 60_000;

export interface LeaseSettings {
  readonly backend: PackBackend;
  /** The store folder: keeps the owner id, and is named to whoever is refused. */
  readonly directory: string;
  readonly stagingDirectory: string;
  /** The store's key: lease records are sealed like everything else in an encrypted bucket. */
  readonly seal?: BlobSeal;
  readonly logger?: Logger;
  /** Tests shorten these. */
  readonly renewMs?: number;
  readonly staleMs?: number;
}

export interface LeaseStatus {
  readonly isHeld: boolean;
  /** Why nothing is written to the bucket now; null while the lease is held. */
  readonly problem: string | null;
  readonly lastRenewedAt: string;
}

interface AgedLease extends ListedLease {
  /** Since the owner's newest renewal, by the bucket's clock. */
  readonly ageMs: number;
}

interface Survey {
  /** This owner's leases as listed. */
  readonly own: ListedLease[];
  /** The lease this owner wrote last: its listed time is "now" by the bucket's clock. */
  readonly written: ListedLease;
  /** Other owners renewing within the stale period: the newest lease of each. */
  readonly live: AgedLease[];
  /** Every lease of the other owners that stopped renewing. */
  readonly stale: AgedLease[];
}

export class BucketLease {
  private timer: NodeJS.Timeout | undefined;
  private renewal: Promise<void> | undefined;
  private lostBecause: string | undefined;
  /** Never reused, even when a put failed: its answer may have been lost after the object landed. */
  private lastSequence: number;
  /** The newest lease of ours seen in a listing: while it is there, nobody took the bucket over. */
  private confirmed: string;
  /** performance.now() of the last renewal seen through. */
  private confirmedAt = performance.now();
  /** The same moment by the wall clock, for the status port. */
  private confirmedWallAt = Date.now();
  private readonly staleMs: number;

  private constructor(
    private readonly settings: LeaseSettings,
    private readonly holder: LeaseHolder,
    sequence: number,
  ) {
    this.lastSequence = sequence;
    this.confirmed = leaseName(holder.ownerId, sequence);
    this.staleMs = settings.staleMs ?? LEASE_STALE_MS;
  }

  /** Takes the bucket's lease or throws BusyError naming the server that holds it. */
  static async take(settings: LeaseSettings): Promise<BucketLease> {
    const { backend, directory, logger } = settings;
    const ownerId = await leaseOwnerOf(directory);
    const own = (await listLeases(backend)).filter((lease) => lease.ownerId === ownerId);
    // Left by this folder's earlier process, which is gone: the folder's process lock is ours now.
    for (const old of own) await backend.deleteBlob(old.name);
    const sequence = own.reduce((highest, lease) => Math.max(highest, lease.sequence), 0) + 1;
    const holder: LeaseHolder = { ownerId, host: hostname(), pid: process.pid, directory, startedAt: new Date().toISOString() };
    const lease = new BucketLease(settings, holder, sequence);
    try {
      await writeLease(backend, settings.stagingDirectory, holder, sequence, settings.seal);
      const survey = await lease.survey();
      if (survey.live.length > 0) throw new BusyError(await lease.inUseMessage(survey.live));
      for (const stale of survey.stale) {
        logger?.warn(`removed a stale lease on ${backend.location}, not renewed for ${minutes(stale.ageMs)} minutes: `
          + `${await lease.describe(stale)} (a server that stopped without releasing it)`);
        await backend.deleteBlob(stale.name);
      }
      // Its server may have come back and renewed meanwhile, under a name not listed above: then it keeps the bucket.
      if (survey.stale.length > 0) {
        const again = await lease.survey();
        if (again.live.length > 0) throw new BusyError(await lease.inUseMessage(again.live));
      }
    } catch (error) {
      // Left behind, it would keep others out for the stale period; the holder ignores it (see renew).
      await backend.deleteBlob(leaseName(ownerId, sequence)).catch((deleteError: unknown) => logger?.warn(
        `could not remove the lease ${leaseName(ownerId, sequence)} from ${backend.location}: ${errorMessage(deleteError)}`));
      throw error;
    }
    lease.timer = setInterval(() => lease.renewInBackground(), settings.renewMs ?? LEASE_RENEW_MS);
    lease.timer.unref();
    return lease;
  }

  /**
   * The other owners' leases renewed within the stale period by this machine's clock, described;
   * only lists and reads (for `recover`, which must not write to a bucket it only inspects).
   */
  static async liveHolders(settings: Pick<LeaseSettings, 'backend' | 'stagingDirectory' | 'seal' | 'staleMs'>): Promise<string[]> {
    const staleMs = settings.staleMs ?? LEASE_STALE_MS;
    const holders: string[] = [];
    for (const lease of await listLeases(settings.backend)) {
      if (Date.now() - lease.modifiedAt.getTime() < staleMs) holders.push(await describedWithLocalAge(settings, lease));
    }
    return holders;
  }

  /**
   * Deletes every other store folder's lease: for an operator who knows their server is gone (its
   * machine lost) and will not wait for the lease to expire. Returns who held each, with its age by
   * this machine's clock.
   */
  static async breakOthers(settings: Pick<LeaseSettings, 'backend' | 'directory' | 'stagingDirectory' | 'seal'>): Promise<string[]> {
    const ownerId = await leaseOwnerOf(settings.directory);
    const removed: string[] = [];
    for (const lease of await listLeases(settings.backend)) {
      if (lease.ownerId === ownerId) continue;
      removed.push(await describedWithLocalAge(settings, lease));
      await settings.backend.deleteBlob(lease.name);
    }
    return removed;
  }

  /**
   * Throws while this server may not write to the bucket: its lease was taken over, or it has not
   * been renewed for half the stale period (a partition, a paused process), after which another
   * server could take it. The second clears with the next renewal that goes through.
   */
  assertHeld(): void {
    if (this.lostBecause !== undefined) throw new BusyError(this.lostBecause);
    const unrenewedMs = performance.now() - this.confirmedAt;
    if (unrenewedMs > this.staleMs / 2) {
      throw new BusyError(`this server's lease on ${this.settings.backend.location} has not been renewed for ${minutes(unrenewedMs)} `
        + 'minutes (is the bucket reachable?); nothing is written to it until a renewal goes through');
    }
  }

  /** For /status and /metrics: whether this server may write to its bucket, and if not, why. */
  get status(): LeaseStatus {
    let problem: string | null = null;
    try {
      this.assertHeld();
    } catch (error) {
      problem = errorMessage(error);
    }
    return { isHeld: problem === null, problem, lastRenewedAt: new Date(this.confirmedWallAt).toISOString() };
  }

  /** Stores the next lease blob, checks this server still holds the bucket, and deletes the ones before. */
  async renew(): Promise<void> {
    if (this.lostBecause !== undefined) return;
    const { backend, stagingDirectory, logger } = this.settings;
    const sequence = ++this.lastSequence;
    // Others age the lease from when the put lands: the deadline counts from before it, never later.
    const startedAt = performance.now();
    const startedWallAt = Date.now();
    await writeLease(backend, stagingDirectory, this.holder, sequence, this.settings.seal);
    const survey = await this.survey();
    const confirmed = survey.own.find((lease) => lease.name === this.confirmed);
    // Unrenewed for the stale period by the bucket's clock, with another server's lease in the bucket:
    // that server may have taken the bucket while this one's leases were being removed (the lease just
    // written then outlives the removal), so this one gives up. The newcomer looks again before it
    // writes, and gives up too if it sees this lease: at most one of them goes on.
    const isStale = confirmed !== undefined && survey.live.length > 0
      && survey.written.modifiedAt.getTime() - confirmed.modifiedAt.getTime() >= this.staleMs;
    if (confirmed === undefined || isStale) {
      this.lostBecause = `this server's lease on ${backend.location} ${isStale ? 'went unrenewed for the stale period' : 'was removed'} `
        + `(found stale by another server, or by break-lease)${survey.live.length > 0 ? `: ${await this.inUseMessage(survey.live)}` : ''}`;
      clearInterval(this.timer);
      await this.deleteOwn(survey.own);
      logger?.error(`${this.lostBecause}; this server writes nothing more to the bucket: restart it once the other one stopped`);
      return;
    }
    const newest = survey.own.reduce((best, lease) => (lease.sequence > best.sequence ? lease : best));
    this.confirmed = newest.name;
    this.confirmedAt = startedAt;
    this.confirmedWallAt = startedWallAt;
    await this.deleteOwn(survey.own.filter((lease) => lease.sequence < newest.sequence));
    for (const other of survey.live) {
      logger?.warn(`another store folder's lease is in ${backend.location}: ${await this.describe(other)}; this server keeps the bucket `
        + '(a server refused at its start leaves one for a moment)');
    }
  }

  /** Stops renewing and removes this owner's leases; never throws. */
  async release(): Promise<void> {
    clearInterval(this.timer);
    await this.renewal;
    const { backend, logger } = this.settings;
    try {
      await this.deleteOwn((await listLeases(backend)).filter((lease) => lease.ownerId === this.holder.ownerId));
    } catch (error) {
      logger?.warn(`could not release the lease on ${backend.location}: ${errorMessage(error)} (the next start of this store folder removes it)`);
    }
  }

  private async deleteOwn(leases: readonly ListedLease[]): Promise<void> {
    for (const lease of leases) await this.settings.backend.deleteBlob(lease.name);
  }

  private renewInBackground(): void {
    if (this.renewal !== undefined) return;
    this.renewal = this.renew().catch((error) => {
      this.settings.logger?.warn(`could not renew the lease on ${this.settings.backend.location}: ${errorMessage(error)} (tried again in `
        + `${minutes(this.settings.renewMs ?? LEASE_RENEW_MS)} minutes)`);
    }).finally(() => {
      this.renewal = undefined;
    });
  }

  private async survey(): Promise<Survey> {
    const leases = await listLeases(this.settings.backend);
    const own = leases.filter((lease) => lease.ownerId === this.holder.ownerId);
    const writtenName = leaseName(this.holder.ownerId, this.lastSequence);
    const written = own.find((lease) => lease.name === writtenName);
    if (written === undefined) throw new BusyError(`the lease ${writtenName} just stored in ${this.settings.backend.location} is not listed there`);
    const now = written.modifiedAt.getTime();
    const newestOfOwner = new Map<string, ListedLease>();
    for (const lease of leases) {
      if (lease.ownerId === this.holder.ownerId) continue;
      const known = newestOfOwner.get(lease.ownerId);
      if (known === undefined || known.modifiedAt < lease.modifiedAt) newestOfOwner.set(lease.ownerId, lease);
    }
    const live: AgedLease[] = [];
    const stale: AgedLease[] = [];
    for (const lease of newestOfOwner.values()) {
      const ageMs = now - lease.modifiedAt.getTime();
      if (ageMs < this.staleMs) live.push({ ...lease, ageMs });
      else stale.push(...leases.filter((other) => other.ownerId === lease.ownerId).map((other) => ({ ...other, ageMs })));
    }
    return { own, written, live, stale };
  }

  private describe(lease: ListedLease): Promise<string> {
    return describeHolder(this.settings.backend, this.settings.stagingDirectory, lease, this.settings.seal);
  }

  private async inUseMessage(live: readonly ListedLease[]): Promise<string> {
    const { backend } = this.settings;
    const holders = await Promise.all(live.map((lease) => this.describe(lease)));
    return `${backend.location} is in use by another cpsbackup server (${holders.join('; ')}). Two servers on one bucket delete each `
      + 'other\'s packs and catalog snapshots: stop that one first (a `recover` drill belongs on a copy of the bucket). '
      + `A server that died without stopping leaves a lease that expires ${minutes(this.staleMs)} minutes `
      + `after its last renewal, or that \`cpsbackup-server break-lease\` removes (${live.map((lease) => lease.name).join(', ')} under blobs/)`;
  }
}

/** Who holds a lease, and how long ago it was renewed by this machine's clock (for commands that write no lease to compare with). */
async function describedWithLocalAge(settings: Pick<LeaseSettings, 'backend' | 'stagingDirectory' | 'seal'>, lease: ListedLease): Promise<string> {
  const ageMs = Math.max(0, Date.now() - lease.modifiedAt.getTime());
  return `${await describeHolder(settings.backend, settings.stagingDirectory, lease, settings.seal)}, renewed ${minutes(ageMs)} minutes ago`;
}

function minutes(ms: number): string {
  return (ms / 60_000).toFixed(ms < 60_000 ? 1 : 0);
}
