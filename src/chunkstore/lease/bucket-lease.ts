// One server writes to a bucket at a time. Two (a `recover` drill on a second machine beside the
// live server, or two servers given the same s3_prefix) would each take the other's newest packs
// for orphans and delete them, collect chunks the other has since referenced again, and prune each
// other's catalog snapshots. So a store that opens a bucket holds a lease there, as restic holds
// lock files: a small blob renewed every few minutes. A store that finds another owner's lease
// renewed within the stale period refuses to open. Ages are measured by the bucket's own clock (the
// blobs' modification times, against the lease just written), so the machines' clocks need not agree.
import { hostname } from 'node:os';
import type { PackBackend } from '../backend/pack-backend';
import { describeHolder, leaseName, listLeases, writeLease, type LeaseHolder, type ListedLease } from './lease-blobs';
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
  readonly logger?: Logger;
  /** Tests shorten these. */
  readonly renewMs?: number;
  readonly staleMs?: number;
}

interface AgedLease extends ListedLease {
  /** Since the owner's newest renewal, by the bucket's clock. */
  readonly ageMs: number;
}

interface Survey {
  /** Other owners renewing within the stale period: the newest lease of each. */
  readonly live: AgedLease[];
  /** Every lease of the other owners that stopped renewing. */
  readonly stale: AgedLease[];
}

export class BucketLease {
  private timer: NodeJS.Timeout | undefined;
  private renewal: Promise<void> | undefined;
  private lostBecause: string | undefined;

  private constructor(
    private readonly settings: LeaseSettings,
    private readonly holder: LeaseHolder,
    private sequence: number,
  ) {}

  /** Takes the bucket's lease or throws BusyError naming the server that holds it. */
  static async take(settings: LeaseSettings): Promise<BucketLease> {
    const { backend, directory } = settings;
    const ownerId = await leaseOwnerOf(directory);
    const own = (await listLeases(backend)).filter((lease) => lease.ownerId === ownerId);
    // Left by this folder's earlier process, which is gone: the folder's process lock is ours now.
    for (const old of own) await backend.deleteBlob(old.name);
    const sequence = own.reduce((highest, lease) => Math.max(highest, lease.sequence), 0) + 1;
    const holder: LeaseHolder = { ownerId, host: hostname(), pid: process.pid, directory, startedAt: new Date().toISOString() };
    const lease = new BucketLease(settings, holder, sequence);
    await writeLease(backend, settings.stagingDirectory, holder, sequence);
    try {
      const survey = await lease.survey();
      if (survey.live.length > 0) throw new BusyError(await lease.inUseMessage(survey.live));
      for (const stale of survey.stale) {
        settings.logger?.warn(`removed a stale lease on ${backend.location}, not renewed for ${minutes(stale.ageMs)} minutes: `
          + `${await describeHolder(backend, settings.stagingDirectory, stale)} (a server that stopped without releasing it)`);
        await backend.deleteBlob(stale.name);
      }
    } catch (error) {
      await backend.deleteBlob(leaseName(ownerId, sequence)).catch(() => undefined);
      throw error;
    }
    lease.timer = setInterval(() => lease.renewInBackground(), settings.renewMs ?? LEASE_RENEW_MS);
    lease.timer.unref();
    return lease;
  }

  /**
   * Deletes every other store folder's lease: for an operator who knows their server is gone (its
   * machine lost) and will not wait for the lease to expire. Returns who held each, with its age by
   * this machine's clock.
   */
  static async breakOthers(settings: Pick<LeaseSettings, 'backend' | 'directory' | 'stagingDirectory'>): Promise<string[]> {
    const { backend, stagingDirectory } = settings;
    const ownerId = await leaseOwnerOf(settings.directory);
    const removed: string[] = [];
    for (const lease of await listLeases(backend)) {
      if (lease.ownerId === ownerId) continue;
      const age = minutes(Math.max(0, Date.now() - lease.modifiedAt.getTime()));
      removed.push(`${await describeHolder(backend, stagingDirectory, lease)}, renewed ${age} minutes ago`);
      await backend.deleteBlob(lease.name);
    }
    return removed;
  }

  /** Throws once another server has taken the bucket over (this one's lease went stale): nothing more may be written. */
  assertHeld(): void {
    if (this.lostBecause !== undefined) throw new BusyError(this.lostBecause);
  }

  /**
   * Stores the next lease blob, checks nobody else took the bucket over, and deletes the one before.
   * A server that finds its bucket taken over stops renewing and removes its lease at once, so the
   * server now holding the bucket does not take it for a second live one.
   */
  async renew(): Promise<void> {
    if (this.lostBecause !== undefined) return;
    const { backend, stagingDirectory } = this.settings;
    const previous = this.sequence;
    await writeLease(backend, stagingDirectory, this.holder, previous + 1);
    this.sequence = previous + 1;
    const survey = await this.survey();
    if (survey.live.length > 0) {
      this.lostBecause = `this server's lease on ${backend.location} went unrenewed too long and was taken over: ${await this.inUseMessage(survey.live)}`;
      clearInterval(this.timer);
      await backend.deleteBlob(leaseName(this.holder.ownerId, this.sequence));
      this.settings.logger?.error(`${this.lostBecause}; this server writes nothing more to the bucket: restart it once the other one stopped`);
    }
    await backend.deleteBlob(leaseName(this.holder.ownerId, previous));
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    await this.renewal;
    await this.settings.backend.deleteBlob(leaseName(this.holder.ownerId, this.sequence));
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
    const ownName = leaseName(this.holder.ownerId, this.sequence);
    const own = leases.find((lease) => lease.name === ownName);
    if (own === undefined) throw new BusyError(`the lease ${ownName} just stored in ${this.settings.backend.location} is not listed there`);
    const now = own.modifiedAt.getTime();
    const newestOfOwner = new Map<string, ListedLease>();
    for (const lease of leases) {
      if (lease.ownerId === this.holder.ownerId) continue;
      const known = newestOfOwner.get(lease.ownerId);
      if (known === undefined || known.modifiedAt < lease.modifiedAt) newestOfOwner.set(lease.ownerId, lease);
    }
    const staleMs = this.settings.staleMs ?? LEASE_STALE_MS;
    const live: AgedLease[] = [];
    const stale: AgedLease[] = [];
    for (const lease of newestOfOwner.values()) {
      const ageMs = now - lease.modifiedAt.getTime();
      if (ageMs < staleMs) live.push({ ...lease, ageMs });
      else stale.push(...leases.filter((other) => other.ownerId === lease.ownerId).map((other) => ({ ...other, ageMs })));
    }
    return { live, stale };
  }

  private async inUseMessage(live: readonly ListedLease[]): Promise<string> {
    const { backend, stagingDirectory } = this.settings;
    const holders = await Promise.all(live.map((lease) => describeHolder(backend, stagingDirectory, lease)));
    return `${backend.location} is in use by another cpsbackup server (${holders.join('; ')}). Two servers on one bucket delete each `
      + 'other\'s packs and catalog snapshots: stop that one first (a `recover` drill belongs in another bucket or s3_prefix). '
      + `A server that died without stopping leaves a lease that expires ${minutes(this.settings.staleMs ?? LEASE_STALE_MS)} minutes `
      + `after its last renewal (${live.map((lease) => lease.name).join(', ')} under blobs/)`;
  }
}

function minutes(ms: number): string {
  return (ms / 60_000).toFixed(ms < 60_000 ? 1 : 0);
}
