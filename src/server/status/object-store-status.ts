// The object store as /status and /metrics show it: where the packs are, how many objects and bytes
// the catalog has there, the S3 requests by operation (count, errors, retries, bytes, latency), and
// the catalog snapshots a lost server would be rebuilt from.
import {
  LATENCY_BOUNDS_SECONDS, type ChunkStore, type S3Backend, type S3Stats, type SnapshotFigures, type StagingFigures, type PackCacheFigures, type LeaseStatus,
} from '../../chunkstore/store';

export interface ObjectStoreStatus {
  readonly kind: string;
  /** s3://bucket/prefix; left out without status details (it names the bucket). */
  readonly location: string | null;
  /** Pack objects the catalog knows in the bucket, and their bytes. */
  readonly objects: number;
  readonly bytes: number;
  /** Since the server started, per operation; latency buckets are cumulative, bounds in latencyBoundsSeconds. */
  readonly operations: S3Stats;
  readonly latencyBoundsSeconds: readonly number[];
  readonly snapshots: (Omit<SnapshotFigures, 'lastAt'> & { readonly lastAt: string | null }) | null;
  /** The local staging folder (s3_staging_max): bytes now, the most since start, the bound, waits for room. */
  readonly staging: StagingFigures;
  /** The local read cache (s3_cache_size); null when it is off (s3_cache_size = 0). */
  readonly cache: PackCacheFigures | null;
  /** One server per bucket: false while this server may not write to it (the problem says why). */
  readonly lease: LeaseStatus | null;
}

/**
 * null for a store that keeps its packs in its local folder. `figures`: the catalog's, as measured for the
 * report (objects and bytes come from the catalog, never from listing the bucket).
 */
export function objectStoreStatus(store: ChunkStore, figures = store.figures()): ObjectStoreStatus | null {
  const backend = store.packBackend;
  if (!isBucket(backend)) return null;
  const snapshots = store.snapshotStatus;
  return {
    kind: backend.kind,
    location: backend.location,
    objects: figures.packs,
    bytes: figures.packBytes,
    operations: backend.stats(),
    latencyBoundsSeconds: LATENCY_BOUNDS_SECONDS,
    snapshots: snapshots === undefined ? null : { ...snapshots, lastAt: snapshots.lastAt === 0 ? null : new Date(snapshots.lastAt).toISOString() },
    staging: store.stagingStatus,
    cache: store.cacheStatus ?? null,
    lease: store.leaseStatus ?? null,
  };
}

/** By kind, not instanceof: the class would load the S3 SDK into every server, local stores' too. */
function isBucket(backend: ChunkStore['packBackend']): backend is S3Backend {
  // A wrapper copying its inner backend's kind (a cache) is no bucket to ask for stats.
  return backend.kind === 's3' && typeof (backend as Partial<S3Backend>).stats === 'function';
}
