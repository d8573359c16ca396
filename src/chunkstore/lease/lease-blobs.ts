// Lease blobs in a bucket: `lease-<owner>-<sequence>`, one small JSON record each. Objects are
// immutable, so a renewal stores the next sequence and then deletes the one before.
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PackBackend, StoredObject } from '../backend/pack-backend';
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

export async function writeLease(backend: PackBackend, stagingDirectory: string, holder: LeaseHolder, sequence: number): Promise<string> {
  const name = leaseName(holder.ownerId, sequence);
  const file = join(stagingDirectory, `${name}.${randomBytes(6).toString('hex')}`);
  try {
    await writeFile(file, `${JSON.stringify({ format: LEASE_FORMAT, ...holder })}\n`, { mode: 0o600 });
    await backend.putBlob(name, file);
    return name;
  } finally {
    await rm(file, { force: true });
  }
}

/** "host H, pid P, store folder D, running since S", or why the record could not be read (it may be gone by now). */
export async function describeHolder(backend: PackBackend, stagingDirectory: string, lease: ListedLease): Promise<string> {
  const file = join(stagingDirectory, `${lease.name}.${randomBytes(6).toString('hex')}`);
  try {
    await backend.getBlob(lease.name, file);
    const record = JSON.parse(await readFile(file, 'utf8')) as Partial<LeaseHolder> & { format?: unknown };
    if (record.format !== LEASE_FORMAT) return `lease ${lease.name} (not a cpsbackup lease record)`;
    return `host ${String(record.host)}, pid ${String(record.pid)}, store folder ${String(record.directory)}, running since ${String(record.startedAt)}`;
  } catch (error) {
    return `lease ${lease.name} (unreadable: ${errorMessage(error)})`;
  } finally {
    await rm(file, { force: true });
  }
}
