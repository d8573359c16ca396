// Lease blobs in a bucket: `lease-<owner>-<sequence>`, one small JSON record each, sealed with the
// store's key when it has one (the record names a host and a folder, and an encrypted bucket shows
// nothing but counts, sizes and times). Objects are immutable, so a renewal stores the next sequence
// and then deletes the ones before.
import type { PackBackend, StoredObject } from '../backend/pack-backend';
import { getJsonBlob, putJsonBlob, type BlobSeal } from '../json-blob';
import { errorMessage } from '../../common/errors';

const LEASE_FORMAT = 'cpsbackup-lease-v1';
const namePattern = /^lease-([0-9a-f]{32})-(\d{10})$/;

/** Who holds a lease, for the message that refuses a second server. */
export interface LeaseHolder {
  readonly ownerId: string;
  readonly host: string;
  readonly pid: number;
  /** The holder's store folder on its own host. */
  readonly directory: string;
  readonly startedAt: string;
}

export interface ListedLease {
  readonly name: string;
  readonly ownerId: string;
  readonly sequence: number;
  readonly modifiedAt: Date;
}


export function leaseName(ownerId: string, sequence: number): string {
  return `lease-${ownerId}-${String(sequence).padStart(10, '0')}`;
}

export async function listLeases(backend: PackBackend): Promise<ListedLease[]> {
  const leases: ListedLease[] = [];
  for await (const blob of backend.listBlobs()) {
    const lease = parseListed(blob);
    if (lease !== undefined) leases.push(lease);
  }
  return leases;
}

function parseListed(blob: StoredObject): ListedLease | undefined {
  const match = namePattern.exec(blob.name);
  if (match === null) return undefined;
  return { name: blob.name, ownerId: match[1], sequence: Number(match[2]), modifiedAt: blob.modifiedAt };
}

export async function writeLease(backend: PackBackend, stagingDirectory: string, holder: LeaseHolder, sequence: number,
  seal: BlobSeal | undefined): Promise<string> {
  const name = leaseName(holder.ownerId, sequence);
  await putJsonBlob(backend, stagingDirectory, name, { format: LEASE_FORMAT, ...holder }, seal);
  return name;
}

/** "host H, pid P, store folder D, running since S", or why the record could not be read (it may be gone by now). */
export async function describeHolder(backend: PackBackend, stagingDirectory: string, lease: ListedLease, seal: BlobSeal | undefined): Promise<string> {
  try {
    const record = await getJsonBlob(backend, stagingDirectory, lease.name, seal) as Partial<LeaseHolder> & { format?: unknown };
    if (record.format !== LEASE_FORMAT) return `lease ${lease.name} (not a cpsbackup lease record)`;
    return `host ${String(record.host)}, pid ${String(record.pid)}, store folder ${String(record.directory)}, running since ${String(record.startedAt)}`;
  } catch (error) {
    return `lease ${lease.name} (unreadable: ${errorMessage(error)})`;
  }
}
